// The replay CLI's argument parsing: defaults, validation naming the flag, the API key from the environment.
import { describe, expect, it } from 'vitest';
import { UsageError, parseReplayArgs } from '../../scripts/replay';

describe('parseReplayArgs', () => {
  it('fills the documented defaults', () => {
    expect(parseReplayArgs(['--model', 'penguins'], {})).toEqual({
      url: 'http://127.0.0.1:8787',
      model: 'penguins',
      data: undefined,
      labelColumn: undefined,
      rate: 20,
      batch: 1,
      durationSeconds: 30,
      requests: undefined,
      fault: undefined,
      apiKey: undefined,
      seed: 1,
      timeoutMs: 10_000,
    });
  });
  it('reads every option', () => {
    const o = parseReplayArgs(
      ['--model=m', '--data', 'd.csv', '--rate', '2.5', '--batch', '8', '--duration', '5', '--requests', '9',
        '--fault', 'drop-label=fog', '--url', 'https://x.example', '--api-key', 'k', '--seed', '3', '--label', 'y'],
      {},
    );
    expect(o).toMatchObject({ model: 'm', data: 'd.csv', rate: 2.5, batch: 8, durationSeconds: 5, requests: 9, url: 'https://x.example',
      fault: { kind: 'drop-label', label: 'fog' }, apiKey: 'k', seed: 3, labelColumn: 'y' });
  });
  it('takes the API key from LABELWATCH_API_KEY unless given', () => {
    expect(parseReplayArgs(['--model', 'm'], { LABELWATCH_API_KEY: 'env-key' })?.apiKey).toBe('env-key');
    expect(parseReplayArgs(['--model', 'm', '--api-key', 'flag'], { LABELWATCH_API_KEY: 'env-key' })?.apiKey).toBe('flag');
  });
  it('returns null for --help', () => {
    expect(parseReplayArgs(['--help'], {})).toBeNull();
  });
  it('names the flag that is wrong', () => {
    const bad: [string[], RegExp][] = [
      [[], /--model: required/],
      [['--model', 'm', '--rate', '0'], /--rate: expected a positive number, got "0"/],
      [['--model', 'm', '--batch', '1.5'], /--batch: expected a positive integer/],
      [['--model', 'm', '--duration', 'soon'], /--duration: expected a positive number/],
      [['--model', 'm', '--fault', 'nan'], /--fault: unknown fault "nan"/],
      [['--model', 'm', '--url', 'ftp://x'], /--url: expected an http\(s\) base URL/],
      [['--model', 'm', '--frobnicate'], /Unknown option '--frobnicate'/],
    ];
    for (const [argv, message] of bad) {
      expect(() => parseReplayArgs(argv, {})).toThrow(UsageError);
      expect(() => parseReplayArgs(argv, {})).toThrow(message);
    }
  });
});
