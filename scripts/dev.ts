// `npm start`: wrangler dev on 127.0.0.1:8787, plus the minute cron that wrangler dev never fires by itself, so a
// local labelwatch closes, judges and alerts on windows like a deployed one. Arguments are passed to wrangler dev
// (`npm start -- --var WINDOW_SECONDS:10`). Runs after `npm run registry` and the local migrations (package.json).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const HOST = '127.0.0.1';
const PORT = 8787;
const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');

const child = spawn(process.execPath, [wrangler, 'dev', '--ip', HOST, '--port', String(PORT), ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' },
});

/** Fires the scheduled handler the way Cloudflare's cron would, at the start of every minute. */
async function cron(): Promise<void> {
  try {
    const res = await fetch(`http://${HOST}:${PORT}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}`);
    if (!res.ok) console.error(`[labelwatch] cron tick: HTTP ${res.status}`);
  } catch {
    // The server is still starting or reloading; the next minute tries again.
  }
}

let timer: NodeJS.Timeout | undefined;
const scheduleNext = () => {
  timer = setTimeout(async () => {
    await cron();
    scheduleNext();
  }, 60_000 - (Date.now() % 60_000) + 1_000);
};
scheduleNext();
console.log(`[labelwatch] the cron runs every minute (GET /cdn-cgi/handler/scheduled); status page: http://${HOST}:${PORT}/`);

const stop = (signal: NodeJS.Signals) => {
  clearTimeout(timer);
  child.kill(signal);
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
child.on('exit', (code, signal) => {
  clearTimeout(timer);
  process.exit(code ?? (signal ? 1 : 0));
});
