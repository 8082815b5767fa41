// The Worker on workerd through Miniflare's own API, without the `wrangler dev` proxy in front: the bundle exactly as
// `wrangler deploy --minify` would upload it, with local D1 (migrations applied) and the aggregator Durable Objects.
// Requests reach the Worker on a socket of its own (Miniflare's `unsafeDirectSockets`), not through Miniflare's entry
// Worker, which routes every request to the user Worker through a second Worker: on a health check that hop was more
// than half the process's CPU, and production has no such hop.
// The benchmarks use it to measure how much of a request's cost is the proxy, and scripts/profile-serve.ts to take
// a CPU profile of the Worker's isolate through workerd's inspector.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { Miniflare, type MiniflareOptions } from 'miniflare';

const MODULE_TYPES: Record<string, 'ESModule' | 'CompiledWasm' | 'Data'> = { '.js': 'ESModule', '.wasm': 'CompiledWasm', '.bin': 'Data' };
const ENV = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' };

/**
 * `wrangler deploy --dry-run` of the tree at `root` into a new temp dir (with `--minify`, as `npm run deploy` uploads
 * it, unless told otherwise: a profile wants the functions' names), in a new dir under `parent` (a benchmark's
 * sandbox, so that an interrupted run leaves nothing behind); returns the dir.
 */
export function buildBundle(root: string, { minify = true, parent = tmpdir() } = {}): string {
  const dir = mkdtempSync(join(parent, 'labelwatch-bundle-'));
  execFileSync('npx', ['wrangler', 'deploy', '--dry-run', ...(minify ? ['--minify'] : []), '--outdir', dir], { cwd: root, env: ENV, stdio: 'pipe' });
  return dir;
}

/** wrangler.toml's compatibility_date, which every Worker a benchmark starts runs with. */
export function compatibilityDate(root: string): string {
  const m = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(root, 'wrangler.toml'), 'utf8'));
  if (!m) throw new Error(`${root}/wrangler.toml: no compatibility_date`);
  return m[1]!;
}

/** The [vars] of wrangler.toml (flat `KEY = "value"` lines of that table). */
function wranglerVars(root: string): Record<string, string> {
  const vars: Record<string, string> = {};
  let inVars = false;
  for (const line of readFileSync(join(root, 'wrangler.toml'), 'utf8').split('\n')) {
    if (/^\s*\[/.test(line)) inVars = line.trim() === '[vars]';
    const m = inVars ? /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/.exec(line) : null;
    if (m) vars[m[1]] = m[2];
  }
  return vars;
}

export interface MiniflareWorker {
  mf: Miniflare;
  /** Process ids of the workerd processes Miniflare started (for their CPU time, or to kill them). */
  workerdPids: number[];
  dispose(): Promise<void>;
}

/**
 * Starts the bundle in `bundleDir` on 127.0.0.1:`port` with wrangler.toml's vars overridden by `vars`, applies the
 * migrations to a fresh in-memory D1, and waits until it answers.
 */
export async function startMiniflare(opts: {
  root: string;
  bundleDir: string;
  port: number;
  inspectorPort?: number;
  vars?: Record<string, string>;
  /** Keep D1 and the Durable Objects on disk here (a restart on the same dir finds them; migrations run once). */
  persistDir?: string;
}): Promise<MiniflareWorker> {
  const { root, bundleDir } = opts;
  const files = readdirSync(bundleDir)
    .filter((f) => MODULE_TYPES[extname(f)])
    .sort((a, b) => Number(extname(b) === '.js') - Number(extname(a) === '.js') || a.localeCompare(b));
  const worker = await startWorkerd({
    port: opts.port,
    ...(opts.inspectorPort !== undefined ? { inspectorPort: opts.inspectorPort } : {}),
    modulesRoot: bundleDir,
    modules: files.map((f) => ({ type: MODULE_TYPES[extname(f)], path: join(bundleDir, f) })),
    compatibilityDate: compatibilityDate(root),
    d1Databases: { DB: 'labelwatch-bench' },
    ...(opts.persistDir ? { d1Persist: join(opts.persistDir, 'd1'), durableObjectsPersist: join(opts.persistDir, 'do') } : {}),
    durableObjects: { AGGREGATOR: { className: 'WindowAggregator', useSQLite: true } },
    queueProducers: { DELIVERIES: { queueName: 'labelwatch-deliveries' } },
    bindings: { ...wranglerVars(root), ...opts.vars },
  });
  const { mf } = worker;
  const db = (await mf.getD1Database('DB')) as unknown as { prepare(s: string): { run(): Promise<unknown> } };
  const fresh = !opts.persistDir || !existsSync(join(opts.persistDir, 'migrated'));
  for (const file of fresh ? readdirSync(join(root, 'migrations')).filter((f) => f.endsWith('.sql')).sort() : [])
    for (const statement of readFileSync(join(root, 'migrations', file), 'utf8').split('--> statement-breakpoint'))
      if (statement.trim()) await db.prepare(statement).run();
  if (opts.persistDir && fresh) writeFileSync(join(opts.persistDir, 'migrated'), '');
  return worker;
}

/**
 * Starts Miniflare with `options`, the Worker listening on 127.0.0.1:`options.port` directly (Miniflare's own entry
 * socket, which Miniflare's API uses, on a free port), and finds the workerd processes it started (for their CPU time).
 */
export async function startWorkerd(options: MiniflareOptions & { port: number }): Promise<MiniflareWorker> {
  const before = new Set(childPids('workerd'));
  const { port, ...rest } = options;
  // Miniflare keeps its scratch state in a `miniflare-<hex>` folder of the OS temp dir, which its dispose() removes
  // only after returning (fire and forget): a script that exits right after left one behind per run. So its temp dir
  // is a folder of ours, removed once it is done, or when the process exits.
  const scratch = mkdtempSync(join(tmpdir(), 'labelwatch-miniflare-'));
  const removeScratch = () => rmSync(scratch, { recursive: true, force: true });
  process.once('exit', removeScratch);
  const tmp = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
  let mf: Miniflare;
  try {
    mf = new Miniflare({ ...rest, host: '127.0.0.1', port: 0, unsafeDirectSockets: [{ host: '127.0.0.1', port }] } as MiniflareOptions);
  } finally {
    if (tmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmp;
  }
  await mf.ready;
  const workerdPids = childPids('workerd').filter((p) => !before.has(p));
  if (workerdPids.length === 0) throw new Error('cannot find the workerd process Miniflare started');
  return {
    mf,
    workerdPids,
    dispose: async () => {
      await mf.dispose();
      removeScratch();
      process.off('exit', removeScratch);
    },
  };
}

/** Removes a bundle dir made by buildBundle. */
export const removeBundle = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** Pids of this process's descendants whose command name is `comm`. */
function childPids(comm: string): number[] {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const d of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(fields[1]));
      names.set(Number(d), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
    } catch {
      /* exited meanwhile */
    }
  }
  const isDescendant = (pid: number): boolean => {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === comm && isDescendant(pid)).map(([pid]) => pid);
}
