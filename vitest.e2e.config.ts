// End-to-end tests (`npm run test:e2e`): a real `wrangler dev` on 127.0.0.1 driven by a real headless Chromium.
// Kept out of `npm test`: they need /usr/bin/chromium (Debian's chromium package) and take about two minutes.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 240_000,
    fileParallelism: false,
  },
});
