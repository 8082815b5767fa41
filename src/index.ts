// The Worker's entry: HTTP (the Hono app), the minute cron and the delivery queue; exports the Durable Objects.
import { createApp } from './app';
import { deliverBatch } from './incidents/deliver';
import type { Env } from './config';
import { tick } from './schedule';

export { WindowAggregator } from './aggregate/aggregator';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext) {
    const report = await tick(env, controller.scheduledTime);
    const { closed, zeroFilled, evaluation, resent, pruned } = report;
    console.log(
      `tick: closed ${closed.length} (zero-filled ${zeroFilled}), evaluated ${evaluation.evaluated} (flagged ${evaluation.flagged}, failed ${evaluation.failed}), resent ${resent}, pruned ${pruned}`,
    );
  },
  async queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext) {
    await deliverBatch(batch, env);
  },
} satisfies ExportedHandler<Env>;
