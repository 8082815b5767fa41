// The Worker's entry: HTTP (the Hono app), the minute cron and the delivery queue; exports the Durable Objects.
import { createApp } from './app';
import type { Env } from './config';

export { WindowAggregator } from './aggregate/aggregator';

const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(_controller: ScheduledController, _env: Env, _ctx: ExecutionContext) {},
  async queue(_batch: MessageBatch<unknown>, _env: Env, _ctx: ExecutionContext) {},
} satisfies ExportedHandler<Env>;
