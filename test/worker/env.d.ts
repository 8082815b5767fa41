// Types of the test-side `env` and `exports` (cloudflare:test, cloudflare:workers): the bindings and vars that
// `wrangler types` generated (src/types/worker-configuration.d.ts, which also types `exports` from the main module),
// every setting as an optional string, and the migrations the pool hands in (vitest.config.ts).
import type { D1Migration } from 'cloudflare:test';
import type { SettingName } from '../../src/config';

type Settings = { [K in SettingName]?: string };

declare global {
  namespace Cloudflare {
    interface Env extends Settings {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
