// Types of the test-side `env` and `exports` (cloudflare:test, cloudflare:workers): the Worker's own Env plus the
// migrations the pool hands in (vitest.config.ts), and the main module so `exports.default.fetch` is typed.
import type { D1Migration } from 'cloudflare:test';
import type { Env as WorkerEnv } from '../../src/config';

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import('../../src/index');
      durableNamespaces: 'WindowAggregator';
    }
  }
}
