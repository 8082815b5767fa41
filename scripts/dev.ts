// `npm start`: the model registry and the local migrations, then wrangler dev on 127.0.0.1 plus the minute cron that
// wrangler dev never fires by itself, so a local labelwatch closes, judges and alerts on windows like a deployed one.
// `--port N` (or PORT=N) moves the server and its cron together; other flags go to wrangler dev
// (`npm start -- --var WINDOW_SECONDS:10`), which rejects the ones it does not know.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOST = '127.0.0.1';
const DEFAULT_PORT = 8787;

export const USAGE = `usage: npm start [-- [--port <n>] [wrangler dev flags]]

Serves labelwatch on http://${HOST}:<port>/ with wrangler dev and fires the minute cron at the same server.

  --port <n>          port of the server and of its cron (default: $PORT, else ${DEFAULT_PORT})
  --persist-to <dir>  where the local D1, Durable Objects and Queues live (default: .wrangler/state); the
                      migrations are applied there too
  -h, --help          this text

Any other flag is passed to wrangler dev, e.g. --var WINDOW_SECONDS:10.`;

export class DevUsageError extends Error {}

function port(value: string | undefined, where: string): number {
  const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(Number.isInteger(n) && n >= 1 && n <= 65_535)) throw new DevUsageError(`${where}: expected a port from 1 to 65535, got "${value ?? ''}"`);
  return n;
}

/**
 * The port (flag, else $PORT, else 8787), --help, the local state's folder when --persist-to names one, and the
 * flags left for wrangler dev (--persist-to among them).
 */
export function parseDevArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): { port: number; help: boolean; persistTo?: string; wrangler: string[] } {
  let chosen: number | undefined;
  let help = false;
  let persistTo: string | undefined;
  const wrangler: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') help = true;
    // wrangler dev keeps its state there, so the migrations must go there too, or the first flush finds no tables.
    else if (arg === '--persist-to' || arg.startsWith('--persist-to=')) {
      persistTo = arg === '--persist-to' ? argv[++i] : arg.slice('--persist-to='.length);
      if (!persistTo) throw new DevUsageError('--persist-to: expected a folder');
      wrangler.push('--persist-to', persistTo);
    }
    else if (arg === '--port') chosen = port(argv[++i], '--port');
    else if (arg.startsWith('--port=')) chosen = port(arg.slice('--port='.length), '--port');
    else if (arg === '--ip' || arg.startsWith('--ip=')) throw new DevUsageError(`${arg}: the server listens on ${HOST} only`);
    else wrangler.push(arg);
  }
  return { port: chosen ?? (env.PORT ? port(env.PORT, 'PORT') : DEFAULT_PORT), help, ...(persistTo === undefined ? {} : { persistTo }), wrangler };
}

function main(argv: string[]): void {
  let args: ReturnType<typeof parseDevArgs>;
  try {
    args = parseDevArgs(argv);
  } catch (e) {
    if (!(e instanceof DevUsageError)) throw e;
    process.stderr.write(`start: ${e.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const base = `http://${HOST}:${args.port}`;
  const env = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false' };
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const migrate = ['run', '--silent', 'db:migrate:local', ...(args.persistTo === undefined ? [] : ['--', '--persist-to', args.persistTo])];
  for (const step of [['run', '--silent', 'registry'], migrate]) {
    const r = spawnSync('npm', step, { cwd: root, stdio: 'inherit', env });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }

  const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  const child = spawn(process.execPath, [wrangler, 'dev', '--ip', HOST, '--port', String(args.port), ...args.wrangler], { stdio: 'inherit', env });

  /** Fires the scheduled handler the way Cloudflare's cron would, at the start of every minute. */
  async function cron(): Promise<void> {
    try {
      const res = await fetch(`${base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}`);
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
  console.log(`[labelwatch] the cron runs every minute (GET ${base}/cdn-cgi/handler/scheduled); status page: ${base}/`);

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
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
