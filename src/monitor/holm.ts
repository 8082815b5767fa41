// Several labels are tested in every window; without a correction, every extra label would be another chance of a
// false alarm. Holm's step-down procedure keeps the chance of any false rejection (family-wise error) at most alpha,
// under any dependence between the tests, and is never less powerful than Bonferroni.

/**
 * Holm–Bonferroni: which of the hypotheses with these p-values are rejected at family-wise level `alpha`.
 * Sort p ascending; reject p(1), p(2), … while p(i) ≤ alpha / (m − i + 1); stop at the first that is not.
 * Returns one boolean per input, in input order. An empty family rejects nothing.
 * @throws RangeError when alpha is not in (0, 1) or a p-value is not in [0, 1].
 */
export function holmRejections(pValues: readonly number[], alpha: number): boolean[] {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  for (const p of pValues) if (!(p >= 0 && p <= 1)) throw new RangeError(`p-values must be in [0, 1], got ${p}`);
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b]);
  const rejected = new Array<boolean>(m).fill(false);
  for (let rank = 0; rank < m; rank++) {
    const i = order[rank];
    if (pValues[i] > alpha / (m - rank)) break;
    rejected[i] = true;
  }
  return rejected;
}
