// What the deployable bundle is made of (a measurement, not a test): builds it as `npm run deploy:check` does
// (`wrangler deploy --dry-run --minify`, into a temp dir, with esbuild's metafile) and prints a markdown table of
// gzip KiB per part: tfjs-core, tfjs-layers, the tfjs-backend-wasm JS, the WASM binary, hono, drizzle, the model
// packages, our own src/ and the rest; then the total against the 400 KiB gzip target, with ✓ or ✗. Exits 0 either
// way.
//
// The total is wrangler's own "Total Upload … gzip" of this build (the figure deploy:check prints, and the one the
// target is about): every module and the script joined and gzipped as one stream (zlib's default level), in an
// order that varies between runs, which moves it by a few tenths of a KiB. The parts are gzipped apart, at the same
// level: a separate module (the WASM binary, the weight shards) on its own; the Worker's script, one stream whose
// parts cannot be gzipped apart, split among its parts in proportion to the minified bytes esbuild put in it for each
// (the metafile's bytesInOutput). The parts so sum to within about a KiB of the total; the table says by how much.
//
// `--models <dir>` (repeatable) adds the packages in <dir> to the registry for this build, as
// `npm run registry -- <dir>` does (e.g. one that is not a Dense stack, which brings tfjs-layers in); the registry is
// generated again without them afterwards.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { cli } from './lib/args.ts';
import { ROOT } from './lib/bench.ts';

const TARGET_KIB = 400;

const USAGE = `usage: npm run bundle:size [-- --models <dir> ...]

Builds the Worker as npm run deploy:check does (wrangler deploy --dry-run --minify, with esbuild's metafile) and
prints gzip KiB per part of the bundle and the total against the ${TARGET_KIB} KiB target. Exits 0 either way.

  --models <dir>   also bundle the model packages in <dir> (repeatable), as npm run registry -- <dir> does
  -h, --help       this text`;

const { models = [] } = cli('bundle-size', USAGE, process.argv.slice(2), { models: { type: 'string', multiple: true } });

/** The parts of the table, in the order printed; a metafile input goes to the first whose test matches its path. */
const PARTS: [string, (path: string) => boolean][] = [
  ['tfjs-core', (p) => packageOf(p) === '@tensorflow/tfjs-core'],
  ['tfjs-layers', (p) => packageOf(p) === '@tensorflow/tfjs-layers'],
  ['tfjs-backend-wasm JS', (p) => packageOf(p) === '@tensorflow/tfjs-backend-wasm'],
  ['WASM binary (SIMD)', () => false],
  ['hono', (p) => packageOf(p) === 'hono'],
  ['drizzle-orm', (p) => packageOf(p) === 'drizzle-orm'],
  // model.json and metadata.json, inlined in the script (the shards are modules of their own, counted below).
  ['model packages (models/*)', (p) => packageOf(p) === null && /\/(model|metadata)\.json$/.test(p) && !p.startsWith('src/')],
  ['own src/', (p) => packageOf(p) === null && p.startsWith('src/')],
  ['other', () => true],
];

/** The npm package a metafile input belongs to (the last node_modules/ in its path), or null for the project's own. */
function packageOf(path: string): string | null {
  const at = path.lastIndexOf('node_modules/');
  if (at < 0) return null;
  const [scope, name] = path.slice(at + 'node_modules/'.length).split('/');
  return scope!.startsWith('@') ? `${scope}/${name}` : scope!;
}

interface Metafile {
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

function registry(extra: string[]): void {
  execFileSync('npx', ['tsx', 'scripts/generate-registry.ts', ...extra], { cwd: ROOT, stdio: 'pipe' });
}

const out = mkdtempSync(join(process.env.TMPDIR ?? tmpdir(), 'labelwatch-bundle-size-'));
const minified = new Map<string, number>(PARTS.map(([name]) => [name, 0]));
const gzip = new Map<string, number>(PARTS.map(([name]) => [name, 0]));
/** What 'other' holds, per package: the names printed under the table. */
const others = new Map<string, number>();
/** wrangler's Total Upload: raw and gzip bytes. */
let [totalMinified, total] = [0, 0];
try {
  registry(models.map((d) => resolve(d)));
  const log = execFileSync('npx', ['wrangler', 'deploy', '--dry-run', '--minify', '--outdir', out, '--metafile', join(out, 'meta.json')], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    encoding: 'utf8',
  });
  const upload = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(log);
  if (!upload) throw new Error(`wrangler printed no "Total Upload: … KiB / gzip: … KiB" line:\n${log}`);
  [totalMinified, total] = [Number(upload[1]) * 1024, Number(upload[2]) * 1024];
  const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8')) as Metafile;
  const script = Object.entries(meta.outputs).find(([file]) => file.endsWith('.js'));
  if (!script) throw new Error('the metafile names no .js output');
  const scriptFile = join(out, script[0].split('/').pop()!);
  const scriptText = readFileSync(scriptFile);
  const scriptGzip = gzipSync(scriptText).length;
  const [scriptBytes, inScript] = [script[1].bytes, Object.values(script[1].inputs).reduce((n, i) => n + i.bytesInOutput, 0)];
  for (const [path, { bytesInOutput }] of Object.entries(script[1].inputs)) {
    const part = PARTS.find(([, test]) => test(path))![0];
    minified.set(part, minified.get(part)! + bytesInOutput);
    gzip.set(part, gzip.get(part)! + (scriptGzip * bytesInOutput) / scriptBytes);
    if (part === 'other') {
      const name = packageOf(path) ?? path;
      others.set(name, (others.get(name) ?? 0) + bytesInOutput);
    }
  }
  // esbuild's runtime helpers and the bytes between modules belong to no input: they count as 'other'.
  gzip.set('other', gzip.get('other')! + (scriptGzip * (scriptBytes - inScript)) / scriptBytes);
  minified.set('other', minified.get('other')! + scriptBytes - inScript);
  // The modules wrangler uploads beside the script: the WASM binary and the model packages' weight shards.
  for (const file of readdirSync(out).sort()) {
    if (!['.wasm', '.bin'].includes(extname(file))) continue;
    const bytes = readFileSync(join(out, file));
    const part = extname(file) === '.wasm' ? 'WASM binary (SIMD)' : 'model packages (models/*)';
    minified.set(part, minified.get(part)! + bytes.length);
    gzip.set(part, gzip.get(part)! + gzipSync(bytes).length);
  }

} finally {
  rmSync(out, { recursive: true, force: true });
  if (models.length > 0) registry([]);
}

const kib = (n: number) => (n / 1024).toFixed(2);
const parts = [...gzip.values()].reduce((a, b) => a + b, 0);
console.log('| part | minified KiB | gzip KiB | share of gzip |');
console.log('|---|---|---|---|');
for (const [name] of PARTS) {
  if (minified.get(name) === 0) {
    console.log(`| ${name} | not bundled | 0 | 0.0% |`);
    continue;
  }
  console.log(`| ${name} | ${kib(minified.get(name)!)} | ${kib(gzip.get(name)!)} | ${((100 * gzip.get(name)!) / parts).toFixed(1)}% |`);
}
console.log(`| **total** (wrangler's Total Upload) | ${kib(totalMinified)} | **${kib(total)}** | parts sum to ${kib(parts)} |`);
const largest = [...others].sort((a, b) => b[1] - a[1]).slice(0, 5);
console.log(`\nother, largest first (minified KiB): ${largest.map(([name, bytes]) => `${name} ${kib(bytes)}`).join(', ')}`);
console.log(`Target: < ${TARGET_KIB} KiB gzip: ${kib(total)} KiB ${total < TARGET_KIB * 1024 ? '✓' : '✗'}`);
