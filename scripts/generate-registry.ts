// Generates src/serving/registry.generated.ts: one import per model package file, because a Worker has no
// file system. Every package is validated here, so a malformed one fails the build with the file and field
// named, never a request at run time.
//
// Usage: tsx scripts/generate-registry.ts [extra model dirs...]   (LABELWATCH_EXTRA_MODELS=dir1:dir2 also works)
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetadataError, parseMetadata, probeMismatches, type ModelMetadata } from '../src/serving/metadata.ts';
import { readDenseLayout, type ModelJson } from '../src/serving/model-package.ts';
import { openApiDocument } from '../src/contract/openapi.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'src/serving/registry.generated.ts');

const BYTES_PER_DTYPE: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, bool: 1, float16: 2 };

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string };
}

class PackageError extends Error {}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PackageError(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Checks model.json against the converter's format and the metadata; returns the shard paths in order, and why the
 * package is not a stack of Dense layers the registry runs without tfjs-layers (null when it is one).
 */
function checkModelJson(dir: string, labels: number, features: number): { paths: string[]; notDense: string | null } {
  const file = join(dir, 'model.json');
  if (!existsSync(file)) throw new PackageError(`${file}: missing (a TensorFlow.js layers model is required)`);
  const model = readJson(file) as Record<string, any>;
  const fail = (field: string, what: string): never => {
    throw new PackageError(`${file}: ${field}: ${what}`);
  };
  if (model.format !== undefined && model.format !== 'layers-model')
    fail('format', `expected "layers-model" (got ${JSON.stringify(model.format)}; graph models are not supported)`);
  if (typeof model.modelTopology !== 'object' || model.modelTopology === null) fail('modelTopology', 'missing');
  if (!Array.isArray(model.weightsManifest) || model.weightsManifest.length === 0)
    fail('weightsManifest', 'expected a non-empty array of {paths, weights}');
  const paths: string[] = [];
  let expectedBytes = 0;
  model.weightsManifest.forEach((group: any, g: number) => {
    if (!Array.isArray(group.paths) || group.paths.length === 0) fail(`weightsManifest[${g}].paths`, 'expected shard file names');
    group.paths.forEach((p: unknown, i: number) => {
      if (typeof p !== 'string' || p.includes('..') || p.startsWith('/'))
        fail(`weightsManifest[${g}].paths[${i}]`, 'expected a file name inside the package');
      if (!existsSync(join(dir, p as string))) fail(`weightsManifest[${g}].paths[${i}]`, `shard ${p} not found`);
      paths.push(p as string);
    });
    if (!Array.isArray(group.weights)) fail(`weightsManifest[${g}].weights`, 'expected weight specs');
    (group.weights as WeightSpec[]).forEach((w, i) => {
      const dtype = w.quantization?.dtype ?? w.dtype;
      const size = BYTES_PER_DTYPE[dtype];
      if (!size || !Array.isArray(w.shape)) fail(`weightsManifest[${g}].weights[${i}]`, `unsupported weight spec ${JSON.stringify(w)}`);
      expectedBytes += size * w.shape.reduce((a, b) => a * b, 1);
    });
  });
  const actualBytes = paths.reduce((sum, p) => sum + statSync(join(dir, p)).size, 0);
  if (actualBytes !== expectedBytes)
    fail('weightsManifest', `shards hold ${actualBytes} bytes but the weight specs need ${expectedBytes}`);

  // Input width and output classes must agree with metadata (features, labels).
  const layers: any[] = model.modelTopology?.model_config?.config?.layers ?? model.modelTopology?.config?.layers ?? [];
  const inputShape: unknown =
    layers[0]?.config?.batch_input_shape ?? layers[0]?.config?.batch_shape ?? layers[0]?.config?.batchInputShape;
  if (Array.isArray(inputShape) && inputShape.length === 2 && inputShape[1] !== features)
    fail('modelTopology (input shape)', `model takes ${inputShape[1]} features but metadata.json lists ${features}`);
  const units: unknown = [...layers].reverse().find((l) => l?.config?.units !== undefined)?.config?.units;
  if (typeof units === 'number' && units !== labels)
    fail('modelTopology (output units)', `model outputs ${units} classes but metadata.json lists ${labels} labels`);
  // The registry's own rule (readDenseSteps reads through it), on the same model.json and shard length.
  const dense = readDenseLayout(model as ModelJson, actualBytes);
  return { paths, notDense: dense.ok ? null : dense.error };
}

export interface CheckedPackage {
  dir: string;
  /** metadata.json, relative to the repository: how warnings name it. */
  file: string;
  metadata: ModelMetadata;
  shards: string[];
  /** Why it needs tfjs-layers, or null when it is a Dense stack. */
  notDense: string | null;
}

export function generate(modelDirs: string[]): { names: string[]; source: string; packages: CheckedPackage[] } {
  const imports: string[] = [];
  const entries: string[] = [];
  const names: string[] = [];
  const packages: CheckedPackage[] = [];
  let i = 0;
  for (const base of modelDirs) {
    if (!existsSync(base)) throw new PackageError(`${base}: model directory not found`);
    for (const entry of readdirSync(base).sort()) {
      const dir = join(base, entry);
      if (!statSync(dir).isDirectory()) continue;
      const metaFile = join(dir, 'metadata.json');
      if (!existsSync(metaFile)) throw new PackageError(`${metaFile}: missing (every model package needs one)`);
      const meta = parseMetadata(readJson(metaFile), relative(root, metaFile));
      if (meta.name !== entry) throw new PackageError(`${relative(root, metaFile)}: name: "${meta.name}" must equal its folder name "${entry}"`);
      if (names.includes(meta.name)) throw new PackageError(`${relative(root, metaFile)}: name: "${meta.name}" is defined twice`);
      const { paths: shards, notDense } = checkModelJson(dir, meta.labels.length, meta.features.length);
      const rel = (f: string) => JSON.stringify(relative(dirname(out), join(dir, f)).split('\\').join('/'));
      imports.push(`import m${i}Model from ${rel('model.json')};`);
      imports.push(`import m${i}Metadata from ${rel('metadata.json')};`);
      shards.forEach((s, j) => imports.push(`import m${i}Shard${j} from ${rel(s)};`));
      entries.push(
        `  { metadata: m${i}Metadata as ModelMetadata, modelJson: m${i}Model as ModelJson, shards: [${shards.map((_, j) => `m${i}Shard${j}`).join(', ')}] },`,
      );
      names.push(meta.name);
      packages.push({ dir, file: relative(root, metaFile), metadata: meta, shards, notDense });
      i++;
    }
  }
  if (names.length === 0) throw new PackageError(`no model packages found in ${modelDirs.join(', ')}`);
  // tfjs-layers (and every WASM kernel) is bundled only when some package needs it.
  const needsLayers = packages.filter((p) => p.notDense !== null);
  const layers = needsLayers.length > 0
    ? [
        `// Not Dense stacks, loaded through tfjs-layers: ${needsLayers.map((p) => `${p.metadata.name} (${p.notDense})`).join('; ')}.`,
        "import { loadLayers } from './layers';",
        'export const LAYERS: LayersLoader | null = loadLayers;',
      ]
    : ['// Every package is a stack of Dense layers: tfjs-layers is not bundled.', 'export const LAYERS: LayersLoader | null = null;'];
  const source = [
    '// Generated by scripts/generate-registry.ts from models/. Do not edit; rerun `npm run registry`.',
    "import type { ModelMetadata } from './metadata';",
    "import type { LayersLoader, ModelJson, ModelPackage } from './registry';",
    ...imports,
    '',
    'export const MODEL_PACKAGES: ModelPackage[] = [',
    ...entries,
    '];',
    '',
    ...layers,
    '',
  ].join('\n');
  return { names, source, packages };
}

const argmax = (p: ArrayLike<number>) => {
  let best = 0;
  for (let j = 1; j < p.length; j++) if (p[j] > p[best]) best = j;
  return best;
};

/**
 * The model's own top label for each probe: from the probabilities the package stores when every probe has them
 * (the worker tests hold the Worker to those), else by running the model on the cpu backend of TF.js in Node.
 */
export async function probeAnswers(pkg: CheckedPackage): Promise<string[]> {
  const { metadata } = pkg;
  if (metadata.probes.every((p) => p.probabilities !== undefined)) return metadata.probes.map((p) => metadata.labels[argmax(p.probabilities!)]);
  const tf = await import('@tensorflow/tfjs');
  const modelJson = JSON.parse(readFileSync(join(pkg.dir, 'model.json'), 'utf8'));
  const buffers = pkg.shards.map((s) => readFileSync(join(pkg.dir, s)));
  const weightData = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
  let offset = 0;
  for (const b of buffers) weightData.set(b, (offset += b.byteLength) - b.byteLength);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs: modelJson.weightsManifest.flatMap((g: { weights: unknown[] }) => g.weights),
      weightData: weightData.buffer,
    }),
  );
  const input = tf.tensor2d(metadata.probes.map((p) => p.input));
  const output = model.predict(input) as import('@tensorflow/tfjs').Tensor;
  const rows = (await output.array()) as number[][];
  tf.dispose([input, output]);
  model.dispose();
  return rows.map((p) => metadata.labels[argmax(p)]);
}

/**
 * A warning when probes are answered with another label than theirs more often than the model's held-out accuracy
 * explains (below n·acc − 2·sd of a binomial; any mismatch when the package records no accuracy), or when reading
 * the answers through a relabelling would fix most of them: the mark of a `labels` list that is not in the model's
 * output order. Null otherwise.
 */
export function probeWarning(pkg: CheckedPackage, answers: string[]): string | null {
  const { metadata } = pkg;
  const mismatches = probeMismatches(metadata, answers);
  if (mismatches.length === 0 || metadata.probes.length === 0) return null;
  const shown = mismatches
    .slice(0, 3)
    .map((m) => `probes[${m.index}] is "${m.label}", the model says "${m.answer}"`)
    .join('; ');
  const accuracy = metadata.training.accuracy;
  let hint = '';
  // For each answered label, the true label most probes answered so carry: a consistent swap shows up here.
  const byAnswer = new Map<string, Map<string, number>>();
  metadata.probes.forEach((p, i) => {
    const counts = byAnswer.get(answers[i]) ?? new Map<string, number>();
    counts.set(p.label, (counts.get(p.label) ?? 0) + 1);
    byAnswer.set(answers[i], counts);
  });
  const relabel = new Map<string, string>();
  for (const [answer, counts] of byAnswer) relabel.set(answer, [...counts].sort((a, b) => b[1] - a[1])[0][0]);
  const relabelled = metadata.probes.filter((p, i) => relabel.get(answers[i]) === p.label).length;
  const swapped = [...relabel].filter(([answer, label]) => answer !== label);
  const n = metadata.probes.length;
  const matches = n - mismatches.length;
  const misordered = swapped.length > 0 && new Set(relabel.values()).size === relabel.size && relabelled >= 0.75 * n && relabelled >= 2 * matches;
  if (misordered)
    hint = `; reading ${swapped.map(([a, l]) => `"${a}" as "${l}"`).join(', ')} would match ${relabelled} of ${metadata.probes.length}: is "labels" in the model's output order?`;
  const explained = accuracy !== undefined && matches >= n * accuracy - 2 * Math.sqrt(n * accuracy * (1 - accuracy));
  if (explained && !misordered) return null;
  return (
    `${pkg.file}: probes: ${mismatches.length} of ${metadata.probes.length} are answered with another label than theirs` +
    `${accuracy !== undefined ? ` (held-out accuracy ${accuracy.toFixed(3)})` : ''}: ${shown}${mismatches.length > 3 ? '; …' : ''}${hint}`
  );
}

const openApiOut = join(root, 'src/contract/openapi.generated.json');

/**
 * Writes the OpenAPI document, which the Worker bundles and serves at /openapi.json. It is built here, at build time,
 * from the same schemas the handlers use: built in the Worker, the converter and every response schema would join
 * the bundle too.
 */
export function writeOpenApi(): void {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const text = `${JSON.stringify(openApiDocument(version), null, 1)}\n`;
  const previous = existsSync(openApiOut) ? readFileSync(openApiOut, 'utf8') : '';
  mkdirSync(dirname(openApiOut), { recursive: true });
  if (previous !== text) writeFileSync(openApiOut, text);
}

export const USAGE = `usage: npm run registry [-- <model dir>...]

Validates every model package in models/ (and in each extra <model dir>, or LABELWATCH_EXTRA_MODELS=dir1:dir2) and
writes src/serving/registry.generated.ts, the import list the Worker bundles. Also writes
src/contract/openapi.generated.json, the OpenAPI document built from the API's schemas, served at /openapi.json.

  -h, --help     this text`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  if (args.some((a) => a === '-h' || a === '--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const flag = args.find((a) => a.startsWith('-'));
  if (flag) {
    console.error(`registry: unknown option '${flag}' (arguments are model directories)\n\n${USAGE}`);
    process.exit(2);
  }
  const extra = [...args, ...(process.env.LABELWATCH_EXTRA_MODELS?.split(':').filter(Boolean) ?? [])];
  try {
    const { names, source, packages } = generate([join(root, 'models'), ...extra.map((d) => resolve(d))]);
    const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (previous !== source) writeFileSync(out, source);
    const layers = packages.filter((p) => p.notDense !== null).map((p) => p.metadata.name);
    console.log(`registry: ${names.length} models (${names.join(', ')}); ${layers.length ? `tfjs-layers bundled for ${layers.join(', ')}` : 'all Dense stacks, no tfjs-layers'}`);
    writeOpenApi();
    for (const pkg of packages) {
      const warning = probeWarning(pkg, await probeAnswers(pkg));
      if (warning) console.warn(`registry: warning: ${warning}`);
    }
  } catch (e) {
    if (e instanceof PackageError || e instanceof MetadataError) {
      console.error(`registry: invalid model package: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}
