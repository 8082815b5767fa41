// Generates src/serving/registry.generated.ts: one import per model package file, because a Worker has no
// file system. Every package is validated here, so a malformed one fails the build with the file and field
// named, never a request at run time.
//
// Usage: tsx scripts/generate-registry.ts [extra model dirs...]   (LABELWATCH_EXTRA_MODELS=dir1:dir2 also works)
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MetadataError, parseMetadata } from '../src/serving/metadata.ts';

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

/** Checks model.json against the converter's format and the metadata; returns the shard paths in order. */
function checkModelJson(dir: string, labels: number, features: number): string[] {
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
  return paths;
}

export function generate(modelDirs: string[]): { names: string[]; source: string } {
  const imports: string[] = [];
  const entries: string[] = [];
  const names: string[] = [];
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
      const shards = checkModelJson(dir, meta.labels.length, meta.features.length);
      const rel = (f: string) => JSON.stringify(relative(dirname(out), join(dir, f)).split('\\').join('/'));
      imports.push(`import m${i}Model from ${rel('model.json')};`);
      imports.push(`import m${i}Metadata from ${rel('metadata.json')};`);
      shards.forEach((s, j) => imports.push(`import m${i}Shard${j} from ${rel(s)};`));
      entries.push(
        `  { metadata: m${i}Metadata as ModelMetadata, modelJson: m${i}Model as ModelJson, shards: [${shards.map((_, j) => `m${i}Shard${j}`).join(', ')}] },`,
      );
      names.push(meta.name);
      i++;
    }
  }
  if (names.length === 0) throw new PackageError(`no model packages found in ${modelDirs.join(', ')}`);
  const source = [
    '// Generated by scripts/generate-registry.ts from models/. Do not edit; rerun `npm run registry`.',
    "import type { ModelMetadata } from './metadata';",
    "import type { ModelJson, ModelPackage } from './registry';",
    ...imports,
    '',
    'export const MODEL_PACKAGES: ModelPackage[] = [',
    ...entries,
    '];',
    '',
  ].join('\n');
  return { names, source };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const extra = [...process.argv.slice(2), ...(process.env.LABELWATCH_EXTRA_MODELS?.split(':').filter(Boolean) ?? [])];
  try {
    const { names, source } = generate([join(root, 'models'), ...extra.map((d) => resolve(d))]);
    const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
    if (previous !== source) writeFileSync(out, source);
    console.log(`registry: ${names.length} models (${names.join(', ')})`);
  } catch (e) {
    if (e instanceof PackageError || e instanceof MetadataError) {
      console.error(`registry: invalid model package: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
}
