// The Worker's entry: HTTP (the Hono app), the minute cron and the delivery queue; exports the Durable Objects.
import { createApp } from './app';
import { deliverBatch } from './incidents/deliver';
import { describeChannels } from './incidents/channels';
import { configOf, MONITORING_HEADER, type Env } from './config';
import { tick } from './schedule';

export { WindowAggregator } from './aggregate/aggregator';

const app = createApp();

let announced = false;
/**
 * Logs once per isolate (a Worker's start-up: its first request, tick or batch) which alert channels are configured,
 * so "nobody is paged" shows in the log before the first incident does. A configuration error is left to the
 * handlers, which report it.
 */
function announceChannels(env: Env): void {
  if (announced) return;
  announced = true;
  try {
    const config = configOf(env);
    console.log(describeChannels(config));
    // Counting less than every answer is a choice someone should see in the log.
    if (config.monitoring === 'off') console.warn('monitoring: off (MONITORING): answered predictions are not recorded');
    if (config.monitoring === 'by-header')
      console.warn(`monitoring: by-header (MONITORING): requests with ${MONITORING_HEADER}: off are not recorded; for benchmarks only`);
  } catch {
    // reported by whatever reads the configuration next
  }
}

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext) {
    const response = app.fetch(request, env, ctx);
    // Once the answer is ready, not before it: the log write would otherwise add a few ms to the isolate's first request.
    if (!announced) ctx.waitUntil(Promise.resolve(response).then(() => announceChannels(env), () => announceChannels(env)));
    return response;
  },
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext) {
    announceChannels(env);
    const report = await tick(env, controller.scheduledTime);
    const { closed, zeroFilled, evaluation, resent, pruned } = report;
    console.log(
      `tick: closed ${closed.length} (zero-filled ${zeroFilled}), evaluated ${evaluation.evaluated} (flagged ${evaluation.flagged}, failed ${evaluation.failed}), resent ${resent}, pruned ${pruned}`,
    );
  },
  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext) {
    announceChannels(env);
    await deliverBatch(batch, env);
  },
} satisfies ExportedHandler<Env>;
