// What the server benchmarks (bench-serve, bench-monitor) share: a snapshot of the tree to serve, one `wrangler dev`
// at a time on it, and autocannon to load it.
//
// The server runs on a snapshot (src, models, migrations, config; node_modules linked) in a temp dir: `wrangler dev`
// always watches its sources, and an edit during a run would reload the isolate mid-measurement.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { seededRandom } from './random.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HOST = '127.0.0.1';
/**
 * The checkout whose Worker the servers run: this one, or BENCH_TREE=<dir>, another checkout of the repo (for example
 * `git worktree add /dev/shm/before <commit>`), so that a before-and-after pair runs today's benchmark on the same
 * machine within the same hour. The benchmark's own code, its load and its targets stay this checkout's.
 */
export const TREE = process.env.BENCH_TREE ? resolve(process.env.BENCH_TREE) : ROOT;

/** The report's line on what ran: TREE's commit, and whether the Worker's files (the snapshot's) had uncommitted changes. */
export function treeLine(): string {
  const git = (...args: string[]) => spawnSync('git', ['-C', TREE, ...args], { encoding: 'utf8' }).stdout.trim();
  const changed = git('status', '--porcelain', '--untracked-files=no', '--', ...SNAPSHOT_ENTRIES) !== '';
  return `Worker: ${TREE === ROOT ? 'this checkout' : `BENCH_TREE=${TREE}`} at ${git('rev-parse', '--short', 'HEAD') || 'an unknown commit'}${changed ? ' with uncommitted changes to the Worker' : ''}.`;
}

/** RECORD_LINGER_MS for the servers a benchmark starts: the environment's, checked as the Worker checks it, else its default. */
export const recordLingerMs = (): number => loadConfig({ RECORD_LINGER_MS: process.env.RECORD_LINGER_MS }).recordLingerMs;
const ENV = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' };
const SNAPSHOT_ENTRIES = ['src', 'models', 'migrations', 'wrangler.toml', 'package.json', 'tsconfig.json'];

/**
 * Where a benchmark of monitoring's cost keeps its servers' local state (Durable Object and D1 SQLite): tmpfs
 * (/dev/shm) when the machine has one, else the OS's temp dir; STATE_DIR=<dir> to choose (STATE_DIR=/tmp: on disk
 * here). Local SQLite syncs every commit to disk on workerd's own thread, inside the aggregator's `sql.exec`: 0.8–4 ms
 * per commit on this machine's disk (strace), 4.4% of the isolate's busy time at 6.4k req/s against 1.1% on tmpfs
 * (`npm run profile:serve`). On Cloudflare the objects run elsewhere, and no Worker waits on that disk.
 */
export const stateParent = (): { dir: string; tmpfs: boolean } => {
  if (process.env.STATE_DIR) return { dir: process.env.STATE_DIR, tmpfs: process.env.STATE_DIR.startsWith('/dev/shm') };
  return existsSync('/dev/shm') ? { dir: '/dev/shm', tmpfs: true } : { dir: tmpdir(), tmpfs: false };
};

/** A whole number ≥ 1 from the environment variable `name`, or `fallback` (ROUNDS=, TRIALS=, …). */
export const positive = (name: string, fallback: number) => Math.max(1, Math.floor(Number(process.env[name] ?? fallback)) || fallback);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CLOCK_TICKS_PER_S = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU time (ms, user + system) used so far by processes: those of process group `group` (a `wrangler dev` and
 * the workerd processes it starts), or the processes `pids` (Miniflare's workerd). A group's count includes its
 * processes' reaped children, so a runtime that `wrangler dev` replaced mid-run still counts (in its parent's).
 */
export function cpuMs(which: { group: number } | { pids: number[] }): number {
  return 'pids' in which ? sumTicks(which.pids.map(String)).ms : groupMeter(which.group).cpu();
}

/** A process group's CPU time, and how often its runtime (the workerd process) was replaced since the first look. */
export function groupMeter(group: number): { cpu: () => number; restarts: () => number } {
  let runtimes = '';
  let restarts = 0;
  return {
    cpu: () => {
      const { ms, workerd } = sumTicks(readdirSync('/proc').filter((d) => /^\d+$/.test(d)), group);
      if (runtimes !== '' && workerd !== '' && workerd !== runtimes) restarts++;
      if (workerd !== '') runtimes = workerd;
      return ms;
    },
    restarts: () => restarts,
  };
}

/** CPU ms of `pids` (only those in `group` when one is given, with their reaped children), and the workerd pids among them. */
function sumTicks(pids: string[], group?: number): { ms: number; workerd: string } {
  let ticks = 0;
  const workerd: string[] = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // After "pid (comm) ": state, ppid, pgrp, ... utime, stime, cutime, cstime are fields 14 to 17 of stat(5).
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (group !== undefined && Number(fields[2]) !== group) continue;
      ticks += Number(fields[11]) + Number(fields[12]) + (group !== undefined ? Number(fields[13]) + Number(fields[14]) : 0);
      if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'workerd') workerd.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return { ms: (ticks / CLOCK_TICKS_PER_S) * 1000, workerd: workerd.sort().join(',') };
}

/** A load run timed from here: what was completed, over the elapsed time measured around it. */
export interface TimedRun {
  result: AutocannonResult;
  /** Seconds from start to the last response, measured by this process. */
  elapsed: number;
  /** Server CPU ms spent meanwhile (when a way to read it was given). */
  cpuMs: number;
  /** Each failed request: `503 <body start>` or the socket error. */
  failed: string[];
}

/** What one request got: its status (0 on a network error) and, for a failure, what it was. */
export interface Sent {
  status: number;
  /** The start of a non-2xx answer's body, or the socket error; kept only for failures. */
  detail?: string;
}

/** A failed request as the reports name it: `503 "<body start>"`, or the socket error. */
export const failureText = ({ status, detail }: Sent): string => (status === 0 ? (detail ?? 'network error') : `${status} ${JSON.stringify(detail ?? '')}`);

/** One HTTP request on a keep-alive agent; resolves once the body is read. */
export function send(agent: Agent, url: URL, body: string | undefined, headers: Record<string, string> = {}): Promise<Sent> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        agent,
        method: body ? 'POST' : 'GET',
        headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) },
      },
      (res) => {
        const status = res.statusCode ?? 0;
        // A 2xx body is thrown away unread; a failure's start is kept, to say what went wrong.
        let text = '';
        res.on('data', (chunk: Buffer) => {
          if ((status < 200 || status >= 300) && text.length < 200) text += chunk.toString('utf8');
        });
        res.on('end', () => resolve(status >= 200 && status < 300 ? { status } : { status, detail: text.slice(0, 200) }));
        res.on('error', (e) => resolve({ status: 0, detail: `response: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
      },
    );
    req.on('error', (e) => resolve({ status: 0, detail: `${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`.trim() }));
    req.end(body);
  });
}

/** Failures described, most frequent first: `3× 503 "…"`, `1× ECONNRESET …`. */
export function describeFailures(details: string[]): string[] {
  const counts = new Map<string, number>();
  // One line each, and safe inside a markdown table cell.
  for (const d of details.map((x) => x.replace(/\s+/g, ' ').replace(/\|/g, '\\|'))) counts.set(d, (counts.get(d) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([d, n]) => `${n}× ${d}`);
}

/**
 * `amount` requests over `connections` keep-alive connections, timed by this process's clock from the first request
 * to the last response. A fixed amount, not a duration: every response is waited for, so the 2xx count is exactly
 * what the server answered, and completed requests over that elapsed time is the true rate. (autocannon's own
 * `requests.average` is a mean of whole-second buckets, and it notices the end of an `amount` run only on its
 * 1-second tick, so its elapsed time is rounded up to whole seconds.)
 */
export async function timedLoad(opts: {
  url: string;
  connections: number;
  body?: string;
  amount: number;
  cpu?: () => number;
  /** The status every answer should have (a control load answered 405 on purpose); any 2xx when absent. */
  expect?: number;
  /** Extra request headers. */
  headers?: Record<string, string>;
}): Promise<TimedRun> {
  const url = new URL(opts.url);
  const agent = new Agent({ keepAlive: true, maxSockets: opts.connections });
  const latencies: number[] = [];
  let issued = 0;
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  const failed: string[] = [];
  const cpu0 = opts.cpu?.() ?? 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.connections }, async () => {
      while (issued < opts.amount) {
        issued++;
        const start = performance.now();
        const { status, detail } = await send(agent, url, opts.body, opts.headers);
        latencies.push(performance.now() - start);
        const good = opts.expect === undefined ? status >= 200 && status < 300 : status === opts.expect;
        if (good) ok++;
        else {
          if (status === 0) errors++;
          else non2xx++;
          failed.push(failureText({ status, detail }));
        }
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpuMs = (opts.cpu?.() ?? 0) - cpu0;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  const total = ok + non2xx;
  const result: AutocannonResult = {
    requests: { average: total / elapsed, p50: 0, p99: 0, total },
    latency: { average: latencies.reduce((a, b) => a + b, 0) / latencies.length, p50: at(0.5), p99: at(0.99) },
    '2xx': ok,
    non2xx,
    errors,
    timeouts: 0,
    duration: elapsed,
  };
  return { result, elapsed, cpuMs, failed };
}

/** Sums of several timed runs (chunks): completed/elapsed is the rate over all of them. */
export function sumRuns(runs: TimedRun[]) {
  const sum = (f: (r: TimedRun) => number) => runs.reduce((a, r) => a + f(r), 0);
  const completed = sum((r) => r.result.requests.total);
  const elapsed = sum((r) => r.elapsed);
  const p50s = runs.map((r) => r.result.latency.p50).sort((a, b) => a - b);
  return {
    completed,
    ok: sum((r) => r.result['2xx']),
    elapsed,
    rps: completed / elapsed,
    cpuPerRequest: sum((r) => r.cpuMs) / completed,
    p50: p50s[Math.floor(p50s.length / 2)],
    p99: Math.max(...runs.map((r) => r.result.latency.p99)),
    failures: sum((r) => r.result.non2xx + r.result.errors + r.result.timeouts),
    /** What the failures were, grouped, most frequent first. */
    failed: describeFailures(runs.flatMap((r) => r.failed)),
  };
}

/** The chunks of two loads sent in one round, close together in time: `a` is compared against `b`. */
export interface Round {
  a: TimedRun[];
  b: TimedRun[];
}

/**
 * 95% intervals for `a` against `b` (pooled req/s a ÷ b, and CPU per request b ÷ a, from the chunks' own CPU), by
 * bootstrap over rounds: as many rounds as there are, drawn with replacement, pooled, 2000 times; the 2.5th and 97.5th
 * percentiles. A round's chunks are seconds apart, so this machine's swings (one server's chunks of the same requests
 * ran at 706 to 1056 req/s within one trial of bench:monitor) weigh on both sides of it; how far they carry the ratio
 * from round to round is what the interval shows and the pooled figure alone hides. Seeded: the same chunks give the
 * same interval.
 */
export function ratioInterval(rounds: Round[], draws = 2000): { rate: [number, number]; cpu: [number, number] } {
  const [rate, cpu] = bootstrapRounds(rounds, draws, (drawn) => {
    const a = pooled(drawn.map((r) => r.a));
    const b = pooled(drawn.map((r) => r.b));
    return [a.requests / a.elapsed / (b.requests / b.elapsed), b.cpuMs / b.requests / (a.cpuMs / a.requests)];
  });
  return { rate: rate!, cpu: cpu! };
}

/** Four loads sent in one round: `a` against `b`, as a share of what `c` reaches against `d`. */
export interface ShareRound {
  a: TimedRun[];
  b: TimedRun[];
  c: TimedRun[];
  d: TimedRun[];
}

/**
 * The 95% interval of a ratio of ratios, (a ÷ b) ÷ (c ÷ d) in pooled req/s, by the same bootstrap over rounds as
 * ratioInterval: how much of a ceiling (c against d, measured in the same rounds) `a` against `b` reaches. An
 * interval that holds 1 cannot tell the two apart.
 */
export function shareInterval(rounds: ShareRound[], draws = 2000): [number, number] {
  const rate = (runs: TimedRun[][]) => {
    const sum = pooled(runs);
    return sum.requests / sum.elapsed;
  };
  return bootstrapRounds(rounds, draws, (drawn) => [
    rate(drawn.map((r) => r.a)) / rate(drawn.map((r) => r.b)) / (rate(drawn.map((r) => r.c)) / rate(drawn.map((r) => r.d))),
  ])[0]!;
}

/** Requests, elapsed seconds and CPU ms summed over chunks. */
function pooled(runs: TimedRun[][]): { requests: number; elapsed: number; cpuMs: number } {
  const sum = { requests: 0, elapsed: 0, cpuMs: 0 };
  for (const chunks of runs)
    for (const r of chunks) {
      sum.requests += r.result.requests.total;
      sum.elapsed += r.elapsed;
      sum.cpuMs += r.cpuMs;
    }
  return sum;
}

/**
 * The bootstrap behind the intervals: as many rounds as there are, drawn with replacement, `draws` times; for each
 * statistic `of` returns, the 2.5th and 97.5th percentiles of its draws. Seeded: the same rounds, the same interval.
 */
export function bootstrapRounds<R>(rounds: R[], draws: number, of: (drawn: R[]) => number[]): [number, number][] {
  const random = seededRandom(13);
  const values: number[][] = [];
  for (let d = 0; d < draws; d++) {
    const drawn = Array.from({ length: rounds.length }, () => rounds[Math.floor(random() * rounds.length)]!);
    of(drawn).forEach((x, i) => (values[i] ??= []).push(x));
  }
  return values.map(middle95);
}

/** The 2.5th and 97.5th percentiles of bootstrap draws (sorts them in place). */
function middle95(draws: number[]): [number, number] {
  draws.sort((x, y) => x - y);
  return [draws[Math.floor(0.025 * draws.length)]!, draws[Math.ceil(0.975 * draws.length) - 1]!];
}

/** A 95% interval of the mean of `xs`, by bootstrap (2000 draws; seeded: the same values give the same interval). */
export function meanInterval(xs: number[], draws = 2000): [number, number] {
  const random = seededRandom(13);
  const means: number[] = [];
  for (let d = 0; d < draws; d++) {
    let sum = 0;
    for (let i = 0; i < xs.length; i++) sum += xs[Math.floor(random() * xs.length)]!;
    means.push(sum / xs.length);
  }
  return middle95(means);
}

/** Where an interval lies against a target: wholly at or above it, wholly below it, or reaching both sides. */
export const sideOf = ([lo, hi]: [number, number], target: number): 'above' | 'below' | 'both' =>
  lo >= target ? 'above' : hi < target ? 'below' : 'both';

/** `0.95–1.01` */
export const span = ([lo, hi]: [number, number]) => `${lo.toFixed(3)}–${hi.toFixed(3)}`;

/**
 * A line naming what failed, per load (`name: 5× 503 "…"; …`), to print under a table; empty when nothing failed.
 * A failure is never silently part of a rate: the tables count them, and this says what they were.
 */
export function failureNote(loads: [name: string, run: ReturnType<typeof sumRuns>][]): string {
  const failed = loads.filter(([, r]) => r.failures > 0).map(([name, r]) => `${name}: ${failedList(r, 3)}`);
  return failed.length ? `\nFailed requests (${failed.join('; ')}).` : '';
}

/** A run's kinds of failure, the `most` most frequent, `…` when there were more kinds. */
export const failedList = (run: ReturnType<typeof sumRuns>, most: number): string =>
  run.failed.slice(0, most).join(', ') + (run.failed.length > most ? ', …' : '');

/** `✓` or `✗` for a value against its target. */
export const mark = (ok: boolean) => (ok ? '✓' : '✗');

export interface Histogram {
  average: number;
  p50: number;
  p99: number;
}
export interface AutocannonResult {
  requests: Histogram & { total: number };
  latency: Histogram;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Seconds. */
  duration: number;
}
// autocannon ships no types; this is the part of its API used here.
const autocannon = createRequire(import.meta.url)('autocannon') as (opts: Record<string, unknown>) => Promise<AutocannonResult>;

/** One load run: `body` POSTed as JSON (a GET without one), for `duration` seconds or until `amount` requests. */
export function loadTest({ url, connections, body, ...until }: { url: string; connections: number; body?: string } & ({ duration: number } | { amount: number })) {
  // Only the stop condition given is passed on: autocannon takes an undefined option over its default.
  return autocannon({
    url,
    connections,
    ...until,
    ...(body ? { method: 'POST', body, headers: { 'content-type': 'application/json' } } : {}),
  });
}

/**
 * A benchmark's sandbox: the snapshot in a temp dir and the `wrangler dev` serving it (one at a time). The server is
 * stopped and the snapshot removed when the process exits, also on Ctrl-C (SIGINT) and SIGTERM; whatever else a
 * benchmark writes goes inside `dir`, so nothing is left behind.
 */
export class Sandbox {
  readonly dir: string;
  private server: ChildProcess | undefined;
  private serverLog = '';

  /** `parent`: where the temp dir goes (default the OS's temp dir; benchmarks of the state's cost: stateParent()). */
  constructor(prefix: string, parent = tmpdir()) {
    this.dir = mkdtempSync(join(parent, prefix));
    process.on('exit', () => this.cleanup());
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const)
      process.on(signal, () => {
        console.error(`\n${signal}: stopping the server and removing ${this.dir}`);
        this.cleanup();
        process.exit(code);
      });
  }

  /** Regenerates the model registry in a checkout (this one unless told: bench:serve and bench:monitor pass TREE), then snapshots it. */
  fill(tree = ROOT) {
    // Another checkout generates its registry with its own script, on this checkout's packages.
    if (!existsSync(join(tree, 'node_modules'))) symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
    this.run('npm', ['run', '--silent', 'registry'], tree);
    for (const entry of SNAPSHOT_ENTRIES) cpSync(join(tree, entry), join(this.dir, entry), { recursive: true });
    this.linkNodeModules();
  }

  /** Writes a Worker of a few files (name → text) into the sandbox instead of the tree's snapshot; node_modules linked. */
  fillWith(files: Record<string, string>) {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(this.dir, name), text);
    this.linkNodeModules();
  }

  private linkNodeModules() {
    symlinkSync(join(ROOT, 'node_modules'), join(this.dir, 'node_modules'), 'dir');
  }

  /** Runs a command to completion (in the snapshot unless told); its stdout, or an error with both outputs. */
  run(cmd: string, args: string[], cwd = this.dir): string {
    const r = spawnSync(cmd, args, { cwd, env: ENV, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  }

  /**
   * Starts `wrangler dev` on the snapshot and waits (up to 90 s) until `readyPath` answers 2xx; returns the ms from
   * spawn to then. `name` tells this server apart in errors.
   */
  async startServer(opts: { name: string; port: number; inspectorPort: number; persistTo: string; readyPath: string; args: string[] }): Promise<number> {
    const started = performance.now();
    this.serverLog = '';
    const server = spawn(
      'npx',
      ['wrangler', 'dev', '--ip', HOST, '--port', String(opts.port), '--inspector-port', String(opts.inspectorPort),
        '--persist-to', opts.persistTo, '--show-interactive-dev-session=false', '--log-level', 'warn', ...opts.args],
      // Its own process group, so stopping it stops the workerd it starts too.
      { cwd: this.dir, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.server = server;
    server.stdout!.on('data', (d) => (this.serverLog += d));
    server.stderr!.on('data', (d) => (this.serverLog += d));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (server.exitCode !== null) throw new Error(`${opts.name} exited (${server.exitCode}):\n${this.serverLog}`);
      try {
        if ((await fetch(`http://${HOST}:${opts.port}${opts.readyPath}`)).ok) return performance.now() - started;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`${opts.name} not ready after 90 s:\n${this.serverLog}`);
  }

  /** The server's process id, which is also its process group's; undefined when none runs. */
  get serverPid(): number | undefined {
    return this.server?.pid;
  }

  /** Kills wrangler and the workerd it started (its process group); idempotent, synchronous enough for 'exit'. */
  stopServer() {
    const pid = this.server?.pid;
    if (pid === undefined || this.server?.exitCode !== null) return;
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    this.server = undefined;
  }

  /** Stops the server and waits until it is gone (SIGKILL after 10 s), so the next measurement has a quiet machine. */
  async stopServerAndWait() {
    const child = this.server;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    this.stopServer();
    if ((await Promise.race([exited, sleep(10_000).then(() => 'timeout')])) === 'timeout') {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }

  cleanup() {
    this.stopServer();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Runs the benchmark's main, then exits: 0, or 1 after printing its error as `name: message`. */
  runMain(name: string, main: () => Promise<void>) {
    main()
      .then(() => {
        this.cleanup();
        process.exit(0);
      })
      .catch((e) => {
        console.error(`${name}: ${(e as Error).message}`);
        this.cleanup();
        process.exit(1);
      });
  }
}
