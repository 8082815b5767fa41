// Three kinds of tests, one command (`npm test`):
//   unit   – the pure monitor core and pure helpers, plain Node;
//   worker – the real Worker inside workerd with real local D1, Durable Objects, Queues and Cron;
//   node   – Node-side tests that need a real server on 127.0.0.1 (webhook receivers) driving Miniflare.
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('./migrations');
  return {
    test: {
      projects: [
        { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node' } },
        {
          plugins: [
            cloudflareTest({
              main: './src/index.ts',
              wrangler: { configPath: './wrangler.toml' },
              // No quiet period before a resolve: the tests follow incidents through a few 60-s windows. The state
              // machine's quiet period is covered by test/unit/monitor-incident.test.ts, its setting by config.test.ts.
              miniflare: { bindings: { TEST_MIGRATIONS: migrations, RESOLVE_QUIET_MINUTES: '0' } },
            }),
          ],
          test: {
            name: 'worker',
            include: ['test/worker/**/*.test.ts'],
            setupFiles: ['./test/worker/apply-migrations.ts'],
            globalSetup: ['./test/worker/schema-validator.global.ts'],
            testTimeout: 60_000,
            hookTimeout: 60_000,
          },
        },
        {
          test: {
            name: 'node',
            include: ['test/node/**/*.test.ts'],
            environment: 'node',
            testTimeout: 120_000,
            hookTimeout: 120_000,
            fileParallelism: false,
          },
        },
      ],
    },
  };
});
