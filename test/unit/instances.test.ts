// The request parsers in isolation: every accepted shape gives rows in feature order, every rejection names the place.
import { describe, expect, it } from 'vitest';
import { checkSignature, parseKServe, parseKServeOutputs, parseTfClassify, parseTfPredict, parseTfServing } from '../../src/serving/instances';
import type { FeatureSpec } from '../../src/serving/metadata';

const features: FeatureSpec[] = ['a', 'b', 'c'].map((name) => ({ name, mean: 0, std: 1 }));
const MAX = 4;

const tf = (body: unknown, max = MAX) => parseTfServing(body, features, max, 'x');
const ks = (body: unknown, max = MAX) => parseKServe(body, features, max);
const kInput = (input: Record<string, unknown>) => ({ inputs: [{ name: 'x', datatype: 'FP32', ...input }] });

function errorOf(result: { ok: boolean; error?: string }): string {
  expect(result.ok).toBe(false);
  return (result as { error: string }).error;
}

describe('parseTfServing', () => {
  it('accepts arrays in feature order and objects keyed by feature name, in any key order', () => {
    const r = tf({ instances: [[1, 2, 3], { c: 6, a: 4, b: 5 }, [-0.5, 0, 1e-30]] });
    expect(r).toEqual({ ok: true, value: [[1, 2, 3], [4, 5, 6], [-0.5, 0, 1e-30]] });
  });

  it("accepts TF Serving's named-input row, {\"<input name>\": [...]}, in feature order", () => {
    expect(tf({ instances: [{ x: [1, 2, 3] }, [4, 5, 6]] })).toEqual({ ok: true, value: [[1, 2, 3], [4, 5, 6]] });
    expect(parseTfClassify({ instances: [{ x: [1, 2, 3] }] }, features, MAX, 'x')).toEqual({ ok: true, value: { rows: [[1, 2, 3]], format: 'instances' } });
    expect(errorOf(tf({ instances: [[1, 2, 3], { x: [1, 2] }] }))).toBe('instances[1].x: expected 3 values (a, b, c), got 2');
    expect(errorOf(tf({ instances: [{ x: [1, null, 3] }] }))).toBe('instances[0].x[1]: expected a finite number, got null');
    expect(errorOf(tf({ instances: [{ x: 1 }] }))).toBe('instances[0].x: expected an array of 3 numbers, got number');
    // Beside other keys it is no named-input row, and an input named like a feature is that feature.
    expect(errorOf(tf({ instances: [{ x: [1, 2, 3], a: 1 }] }))).toBe('instances[0].x: unknown feature (expected a, b, c)');
    expect(errorOf(parseTfServing({ instances: [{ a: [1, 2, 3] }] }, features, MAX, 'a'))).toBe('instances[0].a: expected a finite number, got an array');
  });

  it('accepts the largest float32 however it is written, in every format', () => {
    // 3.4028235e38 is the largest float32 as float32 printers write it (numpy's str, TF Serving's own JSON): a double
    // just above 3.4028234663852886e38 that the model's float32 input rounds to that very number.
    for (const max of [3.4028234663852886e38, 3.4028235e38, 3.4028235677973362e38]) {
      expect(tf({ instances: [[max, -max, 0], { a: -max, b: max, c: 0 }] })).toEqual({ ok: true, value: [[max, -max, 0], [-max, max, 0]] });
      expect(ks(kInput({ shape: [1, 3], data: [max, -max, 0] })).ok).toBe(true);
      expect(parseTfPredict({ inputs: { a: [max], b: [-max], c: [0] } }, features, MAX, 'x').ok).toBe(true);
      expect(parseTfClassify({ examples: [{ a: [max], b: -max, c: 0 }] }, features, MAX, 'x').ok).toBe(true);
    }
  });

  it('accepts exactly the limit and rejects one more', () => {
    expect(tf({ instances: Array(MAX).fill([0, 0, 0]) }).ok).toBe(true);
    expect(errorOf(tf({ instances: Array(MAX + 1).fill([0, 0, 0]) }))).toBe('instances: 5 instances exceed the limit of 4 per request');
  });

  it.each([
    ['a number', 3, 'body: expected a JSON object with "instances"'],
    ['null', null, 'body: expected a JSON object with "instances"'],
    ['an array', [[1, 2, 3]], 'body: expected a JSON object with "instances"'],
    ['no instances', {}, 'instances: missing; send {"instances": [[...], ...]}'],
    ['instances inherited only', JSON.parse('{"__proto__": {"instances": [[1,2,3]]}}'), 'instances: missing; send {"instances": [[...], ...]}'],
    ['instances not an array', { instances: { a: 1 } }, 'instances: expected an array, got an object'],
    ['empty instances', { instances: [] }, 'instances: expected at least one instance'],
    ['a scalar instance', { instances: [[1, 2, 3], 7] }, 'instances[1]: expected an array of 3 numbers or an object keyed by feature name, got number'],
    ['a short row', { instances: [[1, 2]] }, 'instances[0]: expected 3 values (a, b, c), got 2'],
    ['a long row', { instances: [[1, 2, 3, 4]] }, 'instances[0]: expected 3 values (a, b, c), got 4'],
    ['a string value', { instances: [[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, '3']] }, 'instances[3][2]: expected a finite number, got the string "3"'],
    ['a "NaN" string', { instances: [['NaN', 2, 3]] }, 'instances[0][0]: expected a finite number, got the string "NaN"'],
    ['null', { instances: [[1, null, 3]] }, 'instances[0][1]: expected a finite number, got null'],
    ['a boolean', { instances: [[1, 2, true]] }, 'instances[0][2]: expected a finite number, got boolean'],
    ['a nested array', { instances: [[[1], 2, 3]] }, 'instances[0][0]: expected a finite number, got an array'],
    ['1e999 (Infinity)', JSON.parse('{"instances": [[1, 2, 1e999]]}'), 'instances[0][2]: expected a finite number (float32 range), got Infinity'],
    ['-1e999', JSON.parse('{"instances": [[-1e999, 2, 3]]}'), 'instances[0][0]: expected a finite number (float32 range), got -Infinity'],
    ['beyond float32', { instances: [[1e39, 2, 3]] }, 'instances[0][0]: expected a finite number (float32 range), got 1e+39'],
    // Just past the largest float32 by half its last unit: rounds to infinity as a float32.
    ['rounding to float32 infinity', { instances: [[1, -3.4028235677973366e38, 3]] }, 'instances[0][1]: expected a finite number (float32 range), got -3.4028235677973366e+38'],
    ['a missing feature', { instances: [{ a: 1, c: 3 }] }, 'instances[0].b: missing feature'],
    ['an unknown feature', { instances: [{ a: 1, b: 2, c: 3, d: 4 }] }, 'instances[0].d: unknown feature (expected a, b, c)'],
    ['a feature name from the prototype', { instances: [{ a: 1, b: 2, constructor: 3 }] }, 'instances[0].constructor: unknown feature (expected a, b, c)'],
    ['a non-number by name', { instances: [{ a: 1, b: '2', c: 3 }] }, 'instances[0].b: expected a finite number, got the string "2"'],
    // Only reached by calling parseTfServing itself: parseTfPredict takes "inputs" to the columnar parser.
    ['the columnar format', { inputs: { a: [1] } }, 'instances: missing; send {"instances": [[...], ...]}'],
  ])('rejects %s', (_what, body, message) => {
    expect(errorOf(tf(body))).toBe(message);
  });

  it('quotes and shortens an odd unknown key instead of echoing it', () => {
    const key = 'x"\u2028'.repeat(100);
    const message = errorOf(tf({ instances: [{ [key]: 1 }] }));
    expect(message.startsWith('instances[0]["x\\"')).toBe(true);
    expect(message).toContain('…"]: unknown feature');
    expect(message.length).toBeLessThan(140);
  });

  it('does not find a missing feature on Object.prototype', () => {
    const proto: FeatureSpec[] = [{ name: 'toString', mean: 0, std: 1 }];
    expect(errorOf(parseTfServing({ instances: [{}] }, proto, 1, 'x'))).toBe('instances[0].toString: missing feature');
  });
});

describe('parseKServe', () => {
  it('accepts flat and nested data of shape [n, d]', () => {
    const rows = [[1, 2, 3], [4, 5, 6]];
    expect(ks(kInput({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }))).toEqual({ ok: true, value: { rows, inputName: 'x', id: undefined } });
    expect(ks({ id: 'r1', ...kInput({ shape: [2, 3], data: rows }) })).toEqual({ ok: true, value: { rows, inputName: 'x', id: 'r1' } });
  });

  it.each([
    ['no inputs', {}, 'inputs: expected an array of tensors, got undefined'],
    ['two inputs', { inputs: [{}, {}] }, 'inputs: expected exactly 1 input tensor, got 2'],
    ['a null input', { inputs: [null] }, 'inputs[0]: expected an object {name, shape, datatype, data}'],
    ['a numeric id', { id: 3, ...kInput({ shape: [1, 3], data: [1, 2, 3] }) }, 'id: expected a string, got number'],
    ['no name', { inputs: [{ shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }, 'inputs[0].name: expected a non-empty string'],
    ['INT64', kInput({ datatype: 'INT64', shape: [1, 3], data: [1, 2, 3] }), 'inputs[0].datatype: expected "FP32" (or "FP64"), got the string "INT64"'],
    ['a 1-d shape', kInput({ shape: [3], data: [1, 2, 3] }), 'inputs[0].shape: expected [n, 3]'],
    ['a negative shape', kInput({ shape: [-1, 3], data: [1, 2, 3] }), 'inputs[0].shape: expected [n, 3]'],
    ['a wrong width', kInput({ shape: [1, 4], data: [1, 2, 3, 4] }), 'inputs[0].shape[1]: expected 3 features (a, b, c), got 4'],
    ['zero rows', kInput({ shape: [0, 3], data: [] }), 'inputs[0].shape[0]: expected at least one row'],
    ['too many rows', kInput({ shape: [5, 3], data: Array(15).fill(0) }), 'inputs[0].shape[0]: 5 rows exceed the limit of 4 per request'],
    ['data not an array', kInput({ shape: [1, 3], data: 'abc' }), 'inputs[0].data: expected an array, got the string "abc"'],
    ['flat data too short', kInput({ shape: [2, 3], data: [1, 2, 3, 4, 5] }), 'inputs[0].data: shape [2, 3] needs 6 values, got 5'],
    ['a string in flat data', kInput({ shape: [2, 3], data: [1, 2, 3, 4, '5', 6] }), 'inputs[0].data[4]: expected a finite number, got the string "5"'],
    ['Infinity in flat data', JSON.parse('{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,1e999,3]}]}'), 'inputs[0].data[1]: expected a finite number (float32 range), got Infinity'],
    ['a short nested row', kInput({ shape: [2, 3], data: [[1, 2, 3], [4, 5]] }), 'inputs[0].data[1]: expected 3 values (a, b, c), got 2'],
    ['null in nested data', kInput({ shape: [2, 3], data: [[1, 2, 3], [4, null, 6]] }), 'inputs[0].data[1][1]: expected a finite number, got null'],
  ])('rejects %s', (_what, body, message) => {
    expect(errorOf(ks(body))).toBe(message);
  });
});

describe('parseTfClassify (examples and context)', () => {
  const cl = (body: unknown) => parseTfClassify(body, features, MAX, 'x');
  it('takes each feature from the example or the shared context, a number or a list of one', () => {
    expect(cl({ context: { c: 9 }, examples: [{ a: 1, b: [2] }, { b: 5, a: 4 }] })).toEqual({ ok: true, value: { rows: [[1, 2, 9], [4, 5, 9]], format: 'examples' } });
    expect(cl({ instances: [[1, 2, 3]] })).toEqual({ ok: true, value: { rows: [[1, 2, 3]], format: 'instances' } });
  });
  it.each([
    ['neither examples nor instances', {}, 'examples: missing; send {"examples": [{"<feature>": <value>, ...}], "context": {...}} (or {"instances": [...]})'],
    ['both', { examples: [], instances: [] }, 'body: send either "examples" or "instances", not both'],
    ['a feature in both', { context: { a: 1 }, examples: [{ a: 1, b: 2, c: 3 }] }, 'examples[0].a: also in context; a feature appears in one of them only'],
    ['an unknown context feature', { context: { z: 1 }, examples: [{ a: 1, b: 2, c: 3 }] }, 'context.z: unknown feature (expected a, b, c)'],
    ['a missing feature', { examples: [{ a: 1, b: 2 }] }, 'examples[0].c: missing feature (in neither the example nor context)'],
    ['a list of two', { examples: [{ a: [1, 2], b: 2, c: 3 }] }, 'examples[0].a: expected one number (or a list of one), got a list of 2'],
    ['a string value', { examples: [{ a: 'seaside', b: 2, c: 3 }] }, 'examples[0].a: expected a finite number, got the string "seaside"'],
    ['too many examples', { examples: Array(MAX + 1).fill({ a: 1, b: 2, c: 3 }) }, 'examples: 5 examples exceed the limit of 4 per request'],
  ])('rejects %s', (_what, body, message) => {
    expect(errorOf(cl(body))).toBe(message);
  });
});

describe('parseTfPredict (row and columnar formats)', () => {
  const pr = (body: unknown) => parseTfPredict(body, features, MAX, 'x');
  it('reads a tensor of rows, a named input, and one column per feature', () => {
    const want = { ok: true, value: { rows: [[1, 2, 3], [4, 5, 6]], format: 'inputs' } };
    expect(pr({ inputs: [[1, 2, 3], [4, 5, 6]] })).toEqual(want);
    expect(pr({ inputs: { x: [[1, 2, 3], [4, 5, 6]] } })).toEqual(want);
    expect(pr({ inputs: { c: [3, 6], a: [1, 4], b: [2, 5] } })).toEqual(want);
    expect(pr({ instances: [[1, 2, 3]] })).toEqual({ ok: true, value: { rows: [[1, 2, 3]], format: 'instances' } });
  });
  it.each([
    ['both formats', { instances: [[1, 2, 3]], inputs: [[1, 2, 3]] }, 'body: send either "instances" (row format) or "inputs" (columnar format), not both'],
    ['columns of different lengths', { inputs: { a: [1, 2], b: [1], c: [1, 2] } }, 'inputs.b: 1 values, but inputs.a has 2'],
    ['an unknown input', { inputs: { y: [[1, 2, 3]] } }, 'inputs.y: unknown input (expected "x", or one column per feature: a, b, c)'],
    ['a missing column', { inputs: { a: [1], b: [2] } }, 'inputs.c: missing feature column'],
    ['a bad value in a column', { inputs: { a: [1], b: [null], c: [3] } }, 'inputs.b[0]: expected a finite number, got null'],
    ['a flat tensor', { inputs: [1, 2, 3] }, 'inputs[0]: expected an array of 3 numbers, got number'],
    ['no rows', { inputs: [] }, 'inputs: expected at least one row'],
  ])('rejects %s', (_what, body, message) => {
    expect(errorOf(pr(body))).toBe(message);
  });
});

describe('signature_name, KServe outputs and the declared input name', () => {
  it('accepts the default signature only', () => {
    for (const body of [{}, { signature_name: '' }, { signature_name: 'serving_default' }]) expect(checkSignature(body).ok).toBe(true);
    expect(errorOf(checkSignature({ signature_name: 'predict_images' }))).toBe('signature_name: no signature "predict_images" (this model has: serving_default)');
    expect(errorOf(checkSignature({ signature_name: 3 }))).toBe('signature_name: expected a string, got number');
  });
  it('answers the outputs asked for, in order, and rejects unknown or repeated names', () => {
    expect(parseKServeOutputs({})).toEqual({ ok: true, value: ['probabilities', 'labels'] });
    expect(parseKServeOutputs({ outputs: [{ name: 'labels' }, { name: 'probabilities' }] })).toEqual({ ok: true, value: ['labels', 'probabilities'] });
    expect(errorOf(parseKServeOutputs({ outputs: [{ name: 'scores' }] }))).toBe('outputs[0].name: unknown output "scores" (this model has: probabilities, labels)');
    expect(errorOf(parseKServeOutputs({ outputs: [{ name: 'labels' }, { name: 'labels' }] }))).toBe('outputs[1].name: "labels" is asked for twice');
    expect(errorOf(parseKServeOutputs({ outputs: [] }))).toMatch(/^outputs: expected a non-empty array/);
  });
  it('checks the input name only when the model declares one', () => {
    const body = { inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] };
    expect(parseKServe(body, features, MAX).ok).toBe(true);
    expect(parseKServe(body, features, MAX, 'x').ok).toBe(true);
    expect(errorOf(parseKServe(body, features, MAX, 'dense_input'))).toBe('inputs[0].name: expected "dense_input" (the model\'s input), got the string "x"');
  });
});
