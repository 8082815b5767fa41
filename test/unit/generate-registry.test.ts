// The registry generator accepts packages exactly as tensorflowjs_converter writes them (including several weight
// shards) and rejects a malformed package at build time, naming the file and the field.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generate, probeAnswers, probeWarning } from '../../scripts/generate-registry';

const SOURCE = resolve(__dirname, '../../models/penguins');
let base: string;
let pkg: string;

const readJson = (file: string) => JSON.parse(readFileSync(join(pkg, file), 'utf8'));
const writeJson = (file: string, value: unknown) => writeFileSync(join(pkg, file), JSON.stringify(value));

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'labelwatch-registry-'));
  pkg = join(base, 'penguins');
  mkdirSync(pkg);
  for (const f of ['model.json', 'metadata.json', 'group1-shard1of1.bin']) copyFileSync(join(SOURCE, f), join(pkg, f));
});

afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('generate()', () => {
  it('accepts a copied package and imports its files', () => {
    const { names, source } = generate([base]);
    expect(names).toEqual(['penguins']);
    expect(source).toMatch(/import m0Shard0 from ".*penguins\/group1-shard1of1\.bin";/);
    expect(source).toContain('shards: [m0Shard0] }');
  });

  // tfjs-layers is bundled only when a package needs it: the generator applies the registry's own rule (readDenseLayout).
  it('bundles no tfjs-layers when every package is a Dense stack', () => {
    const { source, packages } = generate([base]);
    expect(packages[0]!.notDense).toBeNull();
    expect(source).toContain('export const LAYERS: LayersLoader | null = null;');
    expect(source).not.toContain("from './layers'");
  });

  it.each([
    ['a Dropout layer', (model: any) => model.modelTopology.config.layers.splice(1, 0, { class_name: 'Dropout', config: { rate: 0.5, name: 'dropout' } }), 'layers[1]: a Dropout layer'],
    ['a weight named as the reader does not guess', (model: any) => (model.weightsManifest[0].weights[0].name = 'hidden/cell/kernel'), 'weight hidden/cell/kernel: not a weight of the Dense layers, or listed twice'],
  ])('bundles tfjs-layers for a package with %s, naming it and why', (_, edit, why) => {
    const model = readJson('model.json');
    edit(model);
    writeJson('model.json', model);
    const { source, packages } = generate([base]);
    expect(packages[0]!.notDense).toBe(why);
    expect(source).toContain(`// Not Dense stacks, loaded through tfjs-layers: penguins (${why}).\nimport { loadLayers } from './layers';\nexport const LAYERS: LayersLoader | null = loadLayers;`);
  });

  it('accepts weights split over two shards, listed in manifest order', () => {
    const bin = readFileSync(join(pkg, 'group1-shard1of1.bin'));
    unlinkSync(join(pkg, 'group1-shard1of1.bin'));
    writeFileSync(join(pkg, 'group1-shard1of2.bin'), bin.subarray(0, 200));
    writeFileSync(join(pkg, 'group1-shard2of2.bin'), bin.subarray(200));
    const model = readJson('model.json');
    model.weightsManifest[0].paths = ['group1-shard1of2.bin', 'group1-shard2of2.bin'];
    writeJson('model.json', model);

    const { source } = generate([base]);
    const shard0 = source.indexOf('group1-shard1of2.bin');
    const shard1 = source.indexOf('group1-shard2of2.bin');
    expect(shard0).toBeGreaterThan(0);
    expect(shard1).toBeGreaterThan(shard0);
    expect(source).toContain('shards: [m0Shard0, m0Shard1] }');
  });

  it('rejects a bad metadata field, naming the file and field', () => {
    const meta = readJson('metadata.json');
    meta.features[1].std = -1;
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/penguins\/metadata\.json: features\[1\]\.std: expected a finite number >= 0/);
  });

  it('rejects a label_counts entry that is not a label', () => {
    const meta = readJson('metadata.json');
    meta.training.label_counts.Emperor = 3;
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/metadata\.json: training\.label_counts\.Emperor: not one of labels/);
  });

  it('rejects a metadata name that differs from its folder', () => {
    const meta = readJson('metadata.json');
    meta.name = 'pinguins';
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/metadata\.json: name: "pinguins" must equal its folder name "penguins"/);
  });

  it('rejects a shard whose size does not match the weight specs', () => {
    const bin = readFileSync(join(pkg, 'group1-shard1of1.bin'));
    writeFileSync(join(pkg, 'group1-shard1of1.bin'), bin.subarray(0, bin.length - 4));
    expect(() => generate([base])).toThrow(
      new RegExp(`${join(pkg, 'model.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: weightsManifest: shards hold ${bin.length - 4} bytes but the weight specs need ${bin.length}`),
    );
  });

  it('rejects a missing shard, naming the manifest entry', () => {
    unlinkSync(join(pkg, 'group1-shard1of1.bin'));
    expect(() => generate([base])).toThrow(/penguins\/model\.json: weightsManifest\[0\]\.paths\[0\]: shard group1-shard1of1\.bin not found/);
  });

  it('rejects labels that disagree with the output layer', () => {
    const meta = readJson('metadata.json');
    meta.labels.push('Emperor');
    meta.training.label_counts.Emperor = 0;
    meta.probes = [];
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/model\.json: modelTopology \(output units\): model outputs 3 classes but metadata\.json lists 4 labels/);
  });

  it("accepts labels and features named after JavaScript's own properties", () => {
    const { names } = generate([resolve(__dirname, '../fixtures/js-names')]);
    expect(names).toEqual(['js-names']);
  });

  // A name is a key in D1 rows, payloads and the page: empty, overlong, control characters and broken Unicode cannot
  // be shown or stored faithfully.
  it.each([
    ['an empty label', (m: any) => (m.labels[1] = ''), /metadata\.json: labels\[1\]: expected a non-empty string/],
    ['a label of 201 characters', (m: any) => (m.labels[0] = 'x'.repeat(201)), /metadata\.json: labels\[0\]: expected at most 200 characters/],
    ['a newline in a label', (m: any) => (m.labels[2] = 'Gen\ntoo'), /metadata\.json: labels\[2\]: expected no control characters/],
    ['a NUL in a feature name', (m: any) => (m.features[3].name = 'body\u0000mass'), /metadata\.json: features\[3\]\.name: expected no control characters/],
    ['an unpaired surrogate in a feature name', (m: any) => (m.features[0].name = 'beak\uD800'), /metadata\.json: features\[0\]\.name: expected valid Unicode text \(no unpaired surrogate\)/],
  ])('rejects %s, naming the file and field', (_, edit, error) => {
    const meta = readJson('metadata.json');
    edit(meta);
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(error);
  });

  it('rejects a package without metadata.json', () => {
    unlinkSync(join(pkg, 'metadata.json'));
    expect(() => generate([base])).toThrow(/penguins\/metadata\.json: missing/);
  });
});

describe('packages that explain themselves', () => {
  it('rejects an unknown key with a did-you-mean, at any depth', () => {
    const meta = readJson('metadata.json');
    meta.training.label_count = meta.training.label_counts;
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(
      /penguins\/metadata\.json: training\.label_count: unknown key \(did you mean "label_counts"\?\); expected samples, label_counts, /,
    );
    delete meta.training.label_count;
    meta.features[2].stdev = 1;
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/metadata\.json: features\[2\]\.stdev: unknown key \(did you mean "std"\?\)/);
  });

  it('rejects standardized: true without the raw scaler on every feature', () => {
    const meta = readJson('metadata.json');
    expect(meta.training.standardized).toBe(true);
    delete meta.features[3].raw;
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/metadata\.json: training\.standardized: true, but features\[3\]\.raw is missing/);
  });

  it('keeps JavaScript\'s own property names legal and rejects names with control characters', () => {
    const meta = readJson('metadata.json');
    meta.features[0].name = 'constructor';
    meta.features[1].name = '__proto__';
    writeJson('metadata.json', meta);
    expect(generate([base]).names).toEqual(['penguins']);
    meta.features[1].name = 'beak\u0000depth';
    writeJson('metadata.json', meta);
    expect(() => generate([base])).toThrow(/metadata\.json: features\[1\]\.name: expected no control characters/);
  });

  it('says nothing about the shipped penguins probes, which the model answers with their labels', async () => {
    const [pkg] = generate([base]).packages;
    expect(probeWarning(pkg, await probeAnswers(pkg))).toBeNull();
  });

  it('warns, with the mismatches, when labels are not in the output order (stored probabilities)', async () => {
    const meta = readJson('metadata.json');
    expect(meta.labels).toEqual(['Adelie', 'Chinstrap', 'Gentoo']);
    meta.labels = ['Gentoo', 'Chinstrap', 'Adelie'];
    writeJson('metadata.json', meta);
    const [pkg] = generate([base]).packages;
    const warning = probeWarning(pkg, await probeAnswers(pkg));
    expect(warning).toMatch(/penguins\/metadata\.json: probes: 8 of 12 are answered with another label than theirs \(held-out accuracy [01]\.\d{3}\): probes\[0\] is "Adelie", the model says "Gentoo"/);
    expect(warning).toMatch(/reading "Gentoo" as "Adelie", "Adelie" as "Gentoo" would match 12 of 12: is "labels" in the model's output order\?$/);
  });

  it('runs the model itself when the probes carry no probabilities', async () => {
    const meta = readJson('metadata.json');
    meta.labels = ['Gentoo', 'Chinstrap', 'Adelie'];
    for (const p of meta.probes) delete p.probabilities;
    writeJson('metadata.json', meta);
    const [pkg] = generate([base]).packages;
    const answers = await probeAnswers(pkg);
    // The stored probabilities of the shipped package, read through the swapped labels, are what the model says.
    const shipped = JSON.parse(readFileSync(join(SOURCE, 'metadata.json'), 'utf8'));
    expect(answers).toEqual(shipped.probes.map((p: { probabilities: number[] }) => meta.labels[p.probabilities.indexOf(Math.max(...p.probabilities))]));
    expect(probeWarning(pkg, answers)).toMatch(/would match 12 of 12: is "labels" in the model's output order\?$/);
  });
});
