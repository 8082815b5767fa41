// Shares from counts, smoothed so that no label is ever impossible: the building block of every baseline
// (baseline.ts) and of the model-defect check (defect.ts).

/** Label counts of one window: all a baseline needs from it. */
export interface LabelCounts {
  labelCounts: Record<string, number>;
}

/**
 * Shares with add-half (Jeffreys) pseudo-counts, (c_i + ½) / (N + k/2): a label never seen still gets a small
 * positive share, so no test divides by zero or calls an observed label impossible. Length k ≥ 1.
 * @throws RangeError when a count is negative or not finite, or there are no labels.
 */
export function smoothedShares(counts: readonly number[]): number[] {
  if (counts.length === 0) throw new RangeError('smoothed shares need at least one label');
  let total = 0;
  for (const c of counts) {
    if (!(c >= 0) || !Number.isFinite(c)) throw new RangeError(`counts must be finite and >= 0, got ${c}`);
    total += c;
  }
  return counts.map((c) => (c + 0.5) / (total + counts.length / 2));
}
