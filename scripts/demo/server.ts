// A throwaway local labelwatch for the demo: the registry, migrations applied to a temporary state directory (so
// `npm start`'s data in .wrangler/state is never touched), `wrangler dev` on 127.0.0.1 with the demo's settings in
// an env file (which also keeps a developer's .dev.vars out), and the cron triggered by hand, since wrangler dev
// never fires crons itself. wrangler runs in its own process group, so stopping it stops workerd too.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WRANGLER = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const QUIET = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1', FORCE_COLOR: '0' };
const LOG_LINES = 400;
const REQUEST_LINE = /^\[wrangler:info\] [A-Z]+ \S+ \d{3}\b/;

/** Something the demo itself could not do (as opposed to a story step that did not happen). */
export class SetupError extends Error {}

/** Runs a command to completion; throws SetupError with the end of its output when it fails. */
function run(what: string, args: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env: QUIET, stdio: ['ignore', 'pipe', 'pipe'], signal });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (e) => reject(signal.aborted ? signal.reason : new SetupError(`${what}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new SetupError(`${what} failed (exit ${code}):\n${output.trim().split('\n').slice(-15).join('\n')}`));
    });
  });
}

/** Generates the model registry and applies the D1 migrations into `stateDir`. */
export async function prepare(stateDir: string, signal: AbortSignal): Promise<void> {
  await run('npm run registry', ['--import', 'tsx', 'scripts/generate-registry.ts'], signal);
  // stdin is not a terminal, so wrangler applies without asking.
  await run('wrangler d1 migrations apply', [WRANGLER, 'd1', 'migrations', 'apply', 'labelwatch', '--local', '--persist-to', stateDir], signal);
}

/** Fails fast, with a useful message, when the port is taken (wrangler would otherwise pick another one). */
export async function assertPortFree(port: number): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolvePromise, reject) => {
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(new SetupError(e.code === 'EADDRINUSE' ? `port ${port} on 127.0.0.1 is in use; pass --port <another>` : `port ${port}: ${e.message}`)),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePromise()));
  });
}

export interface LocalLabelwatch {
  url: string;
  /** wrangler's recent output without request lines, oldest first, without colours. */
  log: string[];
  /** Runs the cron once (GET /cdn-cgi/handler/scheduled); resolves when the tick finished. */
  tick(): Promise<void>;
  /** Triggers the cron every `seconds` until stopped. */
  pulse(seconds: number): void;
  /** Stops the cron pulse and wrangler (and workerd with it). Idempotent. */
  stop(): Promise<void>;
}

/** Starts `wrangler dev` with `vars` and resolves once it answers /health. */
export async function startLabelwatch(
  options: { port: number; stateDir: string; vars: Record<string, string>; readySeconds: number },
  signal: AbortSignal,
): Promise<LocalLabelwatch> {
  const url = `http://127.0.0.1:${options.port}`;
  const envFile = join(options.stateDir, 'demo.env');
  await writeFile(envFile, Object.entries(options.vars).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });

  const child: ChildProcess = spawn(
    process.execPath,
    [
      WRANGLER, 'dev',
      '--ip', '127.0.0.1', '--port', String(options.port), '--inspector-port', '0',
      '--persist-to', options.stateDir, '--env-file', envFile,
      '--show-interactive-dev-session=false', '--log-level', 'log',
    ],
    { cwd: ROOT, env: QUIET, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(process.platform === 'win32' ? child.pid : -child.pid, sig);
    } catch {
      // already gone
    }
  };
  // Last resort if the demo dies without stopping it (an uncaught error): never leave workerd behind.
  const onExit = () => killGroup('SIGKILL');
  process.on('exit', onExit);

  const log: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split(/\r?\n/);
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // eslint-disable-next-line no-control-regex
      const clean = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd();
      // One line per request would push out everything else: the cron's ticks, deliveries and errors are the story.
      if (clean && !REQUEST_LINE.test(clean)) log.push(clean);
    }
    if (log.length > LOG_LINES) log.splice(0, log.length - LOG_LINES);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  let running = true;
  void exited.then(() => (running = false));

  let pulseTimer: NodeJS.Timeout | undefined;
  let stopped: Promise<void> | undefined;
  const server: LocalLabelwatch = {
    url,
    log,
    async tick() {
      const response = await fetch(`${url}/cdn-cgi/handler/scheduled`, { signal: AbortSignal.timeout(30_000) });
      await response.text();
      if (!response.ok) throw new Error(`cron trigger: HTTP ${response.status}`);
    },
    pulse(seconds) {
      const beat = async () => {
        try {
          await server.tick();
        } catch (e) {
          log.push(`demo: cron trigger failed: ${(e as Error).message}`);
        }
        if (pulseTimer !== undefined) pulseTimer = setTimeout(beat, seconds * 1000);
      };
      pulseTimer = setTimeout(beat, 0);
    },
    stop() {
      stopped ??= (async () => {
        clearTimeout(pulseTimer);
        pulseTimer = undefined;
        if (running) {
          killGroup('SIGTERM');
          const gone = await Promise.race([exited.then(() => true), sleep(5_000).then(() => false)]);
          if (!gone) killGroup('SIGKILL');
        }
        // workerd may outlive the wrangler process by a moment; the group kill covers it.
        killGroup('SIGKILL');
        process.off('exit', onExit);
      })();
      return stopped;
    },
  };

  const deadline = Date.now() + options.readySeconds * 1000;
  try {
    for (;;) {
      signal.throwIfAborted();
      if (!running) throw new SetupError(`wrangler dev exited before it was ready:\n${log.slice(-20).join('\n')}`);
      try {
        const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
        await response.text();
        if (response.ok) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new SetupError(`wrangler dev did not answer ${url}/health within ${options.readySeconds} s:\n${log.slice(-20).join('\n')}`);
      await sleep(500, undefined, { signal }).catch(() => {});
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
}
