// Every script a user runs answers --help with its usage and stops at once, with status 2 and the flag named, on a
// flag it does not know (before any work: no server, no temp folder, no training). A benchmark killed with SIGTERM
// or SIGINT removes its temp folder. `npm start`'s port reaches both the server and its cron. A benchmark load
// names each failed request. BENCH_TREE's report line names the other checkout's commit.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDevArgs } from '../../scripts/dev';
import { failureNote, groupMeter, meanInterval, ratioInterval, shareInterval, sideOf, sleep, sumRuns, timedLoad, type TimedRun } from '../../scripts/lib/bench';

const ROOT = join(import.meta.dirname, '..', '..');
/** A temp dir of this test's own (TMPDIR for the children), so other runs' folders do not count. */
const TMP = mkdtempSync(join(tmpdir(), 'labelwatch-scripts-test-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
/** labelwatch's folders in it (tsx and wrangler keep caches there too). */
const ours = () => readdirSync(TMP).filter((d) => d.startsWith('labelwatch-'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a script the way its npm script does (node with the tsx loader); `onStart` may signal it. */
function run(script: string, args: string[], onStart?: (pid: number, output: () => string) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: TMP, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onStart?.(child.pid!, () => stdout + stderr);
  });
}

const SCRIPTS: [string, string][] = [
  ['scripts/dev.ts', 'usage: npm start'],
  ['scripts/generate-registry.ts', 'usage: npm run registry'],
  ['scripts/generate-webhook-docs.ts', 'usage: npm run docs:webhooks'],
  ['scripts/train.ts', 'usage: npm run train'],
  ['scripts/bench-serve.ts', 'usage: npm run bench:serve'],
  ['scripts/bench-monitor.ts', 'usage: npm run bench:monitor'],
  ['scripts/bench-detect.ts', 'usage: npm run bench:detect'],
  ['scripts/bench-crash.ts', 'usage: npm run bench:crash'],
  ['scripts/bench-parse.ts', 'usage: npm run bench:parse'],
  ['scripts/bundle-size.ts', 'usage: npm run bundle:size'],
  ['scripts/profile-serve.ts', 'usage: npm run profile:serve'],
  ['scripts/replay.ts', 'usage: npm run replay'],
  ['scripts/demo.ts', 'usage: npm run demo'],
  ['scripts/model-stats.ts', 'usage: npm run stats'],
  ['scripts/seed-status.ts', 'usage: tsx scripts/seed-status.ts'],
];

describe('--help and unknown flags', () => {
  it.each(SCRIPTS)('%s --help prints its usage and exits 0', async (script, usage) => {
    const r = await run(script, ['--help']);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.stdout).toContain(usage);
    expect(r.code).toBe(0);
  });

  // dev.ts passes flags it does not own to wrangler dev, which rejects unknown ones itself; its own must be valid.
  it.each(SCRIPTS.filter(([s]) => s !== 'scripts/dev.ts'))('%s --bogus exits 2 naming the flag, before any work', async (script, usage) => {
    const r = await run(script, ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--bogus');
    expect(r.stderr).toContain(usage);
    expect(ours()).toEqual([]);
  });

  it('npm start rejects a bad --port before starting anything', async () => {
    const r = await run('scripts/dev.ts', ['--port', 'http']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('start: --port: expected a port from 1 to 65535, got "http"');
  });
});

describe('npm start -- --port', () => {
  it('takes the port from --port, else PORT, else 8787, and leaves other flags to wrangler dev', () => {
    expect(parseDevArgs([], {})).toEqual({ port: 8787, help: false, wrangler: [] });
    expect(parseDevArgs([], { PORT: '8801' }).port).toBe(8801);
    expect(parseDevArgs(['--port', '8795', '--var', 'WINDOW_SECONDS:10'], { PORT: '8801' })).toEqual({
      port: 8795,
      help: false,
      wrangler: ['--var', 'WINDOW_SECONDS:10'],
    });
    expect(parseDevArgs(['--port=8796'], {}).port).toBe(8796);
    expect(() => parseDevArgs(['--port', '70000'], {})).toThrow('--port: expected a port from 1 to 65535, got "70000"');
    expect(() => parseDevArgs([], { PORT: 'x' })).toThrow('PORT: expected a port from 1 to 65535, got "x"');
    expect(() => parseDevArgs(['--port'], {})).toThrow('--port: expected a port from 1 to 65535, got ""');
  });

  it('applies the migrations where --persist-to keeps the state, and still hands the flag to wrangler dev', () => {
    expect(parseDevArgs(['--persist-to', '/tmp/lw', '--var', 'A:1'], {})).toEqual({
      port: 8787,
      help: false,
      persistTo: '/tmp/lw',
      wrangler: ['--persist-to', '/tmp/lw', '--var', 'A:1'],
    });
    expect(parseDevArgs(['--persist-to=/tmp/lw'], {}).persistTo).toBe('/tmp/lw');
    expect(() => parseDevArgs(['--persist-to'], {})).toThrow('--persist-to: expected a folder');
  });
});

describe('benchmarks clean up when killed', () => {
  // One signal is enough: SIGINT takes the same path (Sandbox in scripts/lib/bench.ts), exiting 130.
  it.each([['SIGTERM', 143]] as const)('bench-serve stopped with %s removes its temp folder', async (signal, code) => {
    const r = await run('scripts/bench-serve.ts', [], (pid) => {
      // Signal it as soon as its snapshot folder exists (it is filling it, or starting migrations or the server).
      const poll = setInterval(() => {
        if (ours().length > 0) {
          clearInterval(poll);
          process.kill(pid, signal);
        }
      }, 50);
    });
    expect(r.stderr).toContain(`${signal}: stopping the server and removing`);
    expect(r.code).toBe(code);
    expect(ours()).toEqual([]);
  });
});

describe('benchmarks leave no temp folders behind when they finish', () => {
  it('profile-serve (Miniflare with the inspector) leaves neither its bundle nor Miniflare\'s scratch folder', async () => {
    const r = await run('scripts/profile-serve.ts', ['--seconds', '0.5', '--top', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/### CPU profile of the Worker isolate: 1-row `penguins:predict`/);
    expect(readdirSync(TMP).filter((d) => d.startsWith('labelwatch-') || d.startsWith('miniflare-'))).toEqual([]);
  }, 120_000);
});

describe('benchmark loads say what failed', () => {
  it('counts a non-2xx answer and a dropped connection as failures, naming each, and not as completed work', async () => {
    // Every 4th request: a 503 with a body; every 7th: the socket destroyed without an answer.
    let n = 0;
    const server = createServer((req, res) => {
      req.resume();
      n++;
      if (n % 7 === 0) return req.socket.destroy();
      if (n % 4 === 0) return res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"busy |\n now"}');
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const run = await timedLoad({ url: `http://127.0.0.1:${port}/`, connections: 1, amount: 28 });
      expect(run.result['2xx']).toBe(28 - 4 - 7 + 1); // 28 is both: destroyed
      expect(run.result.non2xx).toBe(6);
      expect(run.result.errors).toBe(4);
      const pooled = sumRuns([run]);
      expect(pooled.failures).toBe(10);
      // The body as a JSON string (its newline escaped), its pipe escaped for a markdown table.
      expect(pooled.failed[0]).toBe(String.raw`6× 503 "{\"error\":\"busy \|\n now\"}"`);
      expect(pooled.failed[1]).toMatch(/^4× ECONNRESET/);
      expect(failureNote([['health', pooled], ['quiet', sumRuns([])]])).toBe(`\nFailed requests (health: ${pooled.failed.join(', ')}).`);
    } finally {
      server.close();
    }
  });
});

describe('the interval of a ratio over rounds', () => {
  /** A chunk: `requests` answered in `elapsed` s, with `cpuMs` of the server's CPU. */
  const chunk = (requests: number, elapsed: number, cpuMs: number): TimedRun => ({
    result: { requests: { average: requests / elapsed, p50: 0, p99: 0, total: requests }, latency: { average: 0, p50: 0, p99: 0 }, '2xx': requests, non2xx: 0, errors: 0, timeouts: 0, duration: elapsed },
    elapsed,
    cpuMs,
    failed: [],
  });

  it('is a single point when every round has the same ratio, whatever the machine did to both sides', () => {
    // Rounds run at different speeds (the machine's swings), but in each "a" does 0.9 of "b"'s rate and takes 1.25
    // times its CPU per request (b: 0.1 ms ÷ speed a request; a: 0.125 ms ÷ speed).
    const rounds = [1, 0.5, 2, 0.7, 1.3].map((speed) => ({ a: [chunk(900 * speed, 1, 112.5)], b: [chunk(1000 * speed, 1, 100)] }));
    const { rate, cpu } = ratioInterval(rounds);
    expect(rate[0]).toBeCloseTo(0.9, 10);
    expect(rate[1]).toBeCloseTo(0.9, 10);
    expect(cpu[0]).toBeCloseTo(0.8, 10);
    expect(cpu[1]).toBeCloseTo(0.8, 10);
  });

  it('spans the rounds\' own ratios when they disagree, and comes out the same every time', () => {
    const ratios = [0.8, 0.9, 1.0, 1.1, 1.2, 0.95, 1.05, 0.85];
    const rounds = ratios.map((x) => ({ a: [chunk(1000 * x, 1, 100)], b: [chunk(1000, 1, 100)] }));
    const { rate } = ratioInterval(rounds);
    // The pooled ratio, 0.981, lies inside; the interval is narrower than the rounds' range, but not a point.
    expect(rate[0]).toBeLessThan(0.981);
    expect(rate[1]).toBeGreaterThan(0.981);
    expect(rate[0]).toBeGreaterThan(0.8);
    expect(rate[1]).toBeLessThan(1.2);
    expect(rate[1] - rate[0]).toBeGreaterThan(0.08);
    expect(ratioInterval(rounds)).toEqual(ratioInterval(rounds));
  });

  it('of a share of a ceiling: a point when every round agrees, and holding 1 when the two only differ by noise', () => {
    // Each round at its own speed: a ÷ b is 0.855 and c ÷ d 0.9 in every round, so the share is 0.95 throughout.
    const steady = [1, 0.6, 1.4, 0.8].map((speed) => ({
      a: [chunk(855 * speed, 1, 100)],
      b: [chunk(1000 * speed, 1, 100)],
      c: [chunk(900 * speed, 1, 100)],
      d: [chunk(1000 * speed, 1, 100)],
    }));
    const [lo, hi] = shareInterval(steady);
    expect(lo).toBeCloseTo(0.95, 10);
    expect(hi).toBeCloseTo(0.95, 10);
    // a ÷ b and c ÷ d scatter alike around 0.9: the share's interval holds 1, and the same rounds give the same one.
    const scattered = [0.84, 0.95, 0.9, 0.86, 0.93, 0.88, 0.97, 0.83].map((x, i) => ({
      a: [chunk(1000 * x, 1, 100)],
      b: [chunk(1000, 1, 100)],
      c: [chunk(1000 * [0.92, 0.85, 0.89, 0.94, 0.87, 0.91, 0.84, 0.96][i]!, 1, 100)],
      d: [chunk(1000, 1, 100)],
    }));
    const share = shareInterval(scattered);
    expect(share[0]).toBeLessThan(1);
    expect(share[1]).toBeGreaterThan(1);
    expect(shareInterval(scattered)).toEqual(share);
  });

  it('of a mean: a point for equal values, around the mean for spread ones, the same every time', () => {
    expect(meanInterval([0.5, 0.5, 0.5])).toEqual([0.5, 0.5]);
    const sends = [0.39, 0.44, 0.48, 0.63, 0.74, 0.61];
    const [lo, hi] = meanInterval(sends);
    const mean = sends.reduce((a, b) => a + b, 0) / sends.length;
    expect(lo).toBeLessThan(mean);
    expect(hi).toBeGreaterThan(mean);
    expect(lo).toBeGreaterThan(0.39);
    expect(hi).toBeLessThan(0.74);
    expect(meanInterval(sends)).toEqual([lo, hi]);
  });

  it('says on which side of a target an interval lies, a bound on the target counting as above it', () => {
    expect(sideOf([0.97, 1.02], 0.97)).toBe('above');
    expect(sideOf([0.9, 0.969], 0.97)).toBe('below');
    expect(sideOf([0.92, 1.04], 0.97)).toBe('both');
  });
});

describe("a wrangler dev process group's CPU meter", () => {
  it("counts a reaped child's CPU, and notices when the runtime (workerd) is replaced", async () => {
    const dir = mkdtempSync(join(TMP, 'labelwatch-meter-'));
    const workerd = join(dir, 'workerd'); // `sleep` under the runtime's process name
    symlinkSync('/bin/sleep', workerd);
    // The group's leader: a child that burns 300 ms of CPU and is reaped, then a "workerd", replaced on SIGUSR2.
    const leader = spawn(
      process.execPath,
      [
        '-e',
        `const { spawn, spawnSync } = require('node:child_process');
         spawnSync(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 300);']);
         let runtime = spawn(${JSON.stringify(workerd)}, ['30']);
         process.on('SIGUSR2', () => { runtime.kill(); runtime = spawn(${JSON.stringify(workerd)}, ['30']); process.stdout.write('replaced\\n'); });
         process.stdout.write('ready\\n');
         setInterval(() => {}, 1000);`,
      ],
      { detached: true, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    try {
      await once(leader.stdout, 'data');
      const meter = groupMeter(leader.pid!);
      expect(meter.cpu()).toBeGreaterThanOrEqual(250);
      expect(meter.restarts()).toBe(0);
      meter.cpu();
      expect(meter.restarts()).toBe(0);
      process.kill(leader.pid!, 'SIGUSR2');
      await once(leader.stdout, 'data');
      await sleep(100);
      meter.cpu();
      expect(meter.restarts()).toBe(1);
    } finally {
      process.kill(-leader.pid!, 'SIGKILL');
    }
  });
});

describe('BENCH_TREE: a benchmark of another checkout', () => {
  /** treeLine() as a benchmark run with BENCH_TREE=<tree> prints it. */
  async function reportLine(tree: string): Promise<string> {
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', "import('./scripts/lib/bench.ts').then((m) => console.log(m.treeLine()))"], {
      cwd: ROOT,
      env: { ...process.env, BENCH_TREE: tree },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await once(child, 'close');
    return out.trim();
  }

  it("names the checkout's commit, and uncommitted changes to its Worker but not to its docs", async () => {
    const tree = mkdtempSync(join(TMP, 'labelwatch-tree-'));
    const git = (...args: string[]) => execFileSync('git', ['-C', tree, ...args], { encoding: 'utf8' }).trim();
    mkdirSync(join(tree, 'src'));
    mkdirSync(join(tree, 'docs'));
    writeFileSync(join(tree, 'src', 'index.ts'), 'export {};\n');
    writeFileSync(join(tree, 'docs', 'notes.md'), '# notes\n');
    git('init', '-q');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-qm', 'a Worker');
    const commit = git('rev-parse', '--short', 'HEAD');

    expect(await reportLine(tree)).toBe(`Worker: BENCH_TREE=${tree} at ${commit}.`);
    writeFileSync(join(tree, 'docs', 'notes.md'), '# notes, edited\n');
    expect(await reportLine(tree)).toBe(`Worker: BENCH_TREE=${tree} at ${commit}.`);
    writeFileSync(join(tree, 'src', 'index.ts'), 'export const edited = 1;\n');
    expect(await reportLine(tree)).toBe(`Worker: BENCH_TREE=${tree} at ${commit} with uncommitted changes to the Worker.`);
  });
});
