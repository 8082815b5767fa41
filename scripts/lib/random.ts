// Seeded randomness for the scripts: training splits and epoch orders, replay row orders, simulated label streams
// and the status-page scenario. Everything that must come out the same on every run draws from here, never from
// Math.random. scripts/train.ts writes committed model files from these draws, so a change to either function
// changes the models: keep them as they are.

/** mulberry32: a small, fast 32-bit PRNG (uniform in [0, 1)); good enough for shuffles, splits and sampling. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle of `items` in place (also returned), drawing from `random`. */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
