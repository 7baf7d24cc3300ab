import { selectNucleus, NucleusScratch } from './nucleus';
import { SeededRng } from './seeded-rng';

/** ChatRWKV's sample_logits truncation, by full sort: probs ≥ cutoff (top-p, ties kept) ∩ first k. */
function reference(weights: Float32Array, topP: number, topK: number): number[] {
  const order = Array.from(weights.keys())
    .filter((i) => weights[i] > 0)
    .sort((a, b) => weights[b] - weights[a] || a - b);
  let kept = order;
  if (topP < 1) {
    const total = order.reduce((acc, i) => acc + weights[i], 0);
    let cumulative = 0;
    let cutoff = 0;
    for (const i of order) {
      cumulative += weights[i];
      if (cumulative >= topP * total) {
        cutoff = weights[i];
        break;
      }
    }
    kept = order.filter((i) => weights[i] >= cutoff);
  }
  if (topK > 0) kept = kept.slice(0, topK);
  return kept.sort((a, b) => a - b);
}

function weightsFrom(logits: number[]): Float32Array {
  const max = Math.max(...logits);
  return Float32Array.from(logits, (x) => (x > -Infinity ? Math.exp(x - max) : 0));
}

function select(weights: Float32Array, topP: number, topK: number): number[] {
  const out = new Int32Array(weights.length);
  const total = weights.reduce((a, b) => a + b, 0);
  const bits = new Uint32Array(weights.buffer, weights.byteOffset, weights.length);
  const n = selectNucleus(weights, bits, total, topP, topK, out, new NucleusScratch(weights.length));
  return Array.from(out.subarray(0, n)).sort((a, b) => a - b);
}

describe('selectNucleus equals the full-sort ChatRWKV truncation', () => {
  const rng = SeededRng.fromSeed(2024);
  const shapes: Record<string, (i: number) => number> = {
    flat: () => rng.nextFloat(),
    lm: () => rng.nextFloat() * 12 - 6 + (rng.nextFloat() < 0.01 ? 8 : 0),
    wide: () => -rng.nextFloat() * 200, // spans the whole bin range and float32 underflow
    ties: () => Math.floor(rng.nextFloat() * 6),
    banned: (i) => (i % 3 === 0 ? -Infinity : rng.nextFloat() * 4),
  };
  for (const [shape, gen] of Object.entries(shapes)) {
    test(shape, () => {
      for (let trial = 0; trial < 12; trial++) {
        const v = 1 + Math.floor(rng.nextFloat() * 3000);
        const weights = weightsFrom(Array.from({ length: v }, (_, i) => gen(i)));
        for (const [topP, topK] of [
          [0, 0],
          [0.3, 0],
          [0.85, 0],
          [0.999, 0],
          [1, 1],
          [1, 7],
          [0.5, 3],
          [0.95, 100],
          [1, v + 5],
        ] as const) {
          expect(select(weights, topP, topK)).toEqual(reference(weights, topP, topK));
        }
      }
    });
  }
});
