/**
 * Top-p / top-k truncation without sorting the vocabulary.
 *
 * ChatRWKV sorts all V probabilities, keeps the shortest prefix whose mass reaches top_p (plus anything tied
 * with its last element), and intersects that with the top k. We get the same set in O(V): a histogram of
 * the weights over log-spaced bins finds the one bin where the cut falls, and only that bin is sorted.
 *
 * The bins come from the float32 bit pattern: for 0 < w ≤ 1, `0x3f800000 - bits(w)` grows monotonically as
 * w shrinks (it is a piecewise-linear log2), so `>>> 17` gives 64 bins per octave with integer ops only.
 */

const ONE_BITS = 0x3f800000; // float32 bits of 1.0, the largest weight
const BIN_SHIFT = 17;
export const NUCLEUS_BINS = (ONE_BITS >>> BIN_SHIFT) + 1;

/** Reusable buffers for one vocabulary size (allocate once per sampler context). */
export class NucleusScratch {
  readonly binMass = new Float64Array(NUCLEUS_BINS);
  readonly binCount = new Int32Array(NUCLEUS_BINS);
  readonly cutBin: Int32Array;

  constructor(vocabSize: number) {
    this.cutBin = new Int32Array(vocabSize);
  }
}

/**
 * `weights[i]` = exp(logit_i - max): the largest is exactly 1, banned tokens 0; `bits` is the same memory
 * viewed as Uint32Array; `total` = Σ weights. Writes the kept token ids into `out` and returns how many.
 * `topP >= 1` disables top-p and `topK <= 0` disables top-k. Ties at a top-k boundary go to the lower id.
 */
export function selectNucleus(
  weights: Float32Array,
  bits: Uint32Array,
  total: number,
  topP: number,
  topK: number,
  out: Int32Array,
  scratch: NucleusScratch,
): number {
  const { binMass, binCount, cutBin: inCut } = scratch;
  const v = weights.length;
  binMass.fill(0);
  binCount.fill(0);
  for (let i = 0; i < v; i++) {
    if (weights[i] > 0) {
      const b = (ONE_BITS - bits[i]) >>> BIN_SHIFT;
      binMass[b] += weights[i];
      binCount[b]++;
    }
  }

  // First bin where the cumulative mass reaches top_p or the cumulative count reaches k.
  const target = topP < 1 ? topP * total : Infinity;
  const k = topK > 0 ? topK : Infinity;
  let cut = NUCLEUS_BINS; // past the end: keep every token with weight
  let massBefore = 0;
  let countBefore = 0;
  for (let b = 0; b < NUCLEUS_BINS; b++) {
    if (massBefore + binMass[b] >= target || countBefore + binCount[b] >= k) {
      cut = b;
      break;
    }
    massBefore += binMass[b];
    countBefore += binCount[b];
  }

  // Tokens in earlier bins are kept outright; the cut bin's tokens are sorted to place the cut exactly.
  let n = 0;
  let m = 0;
  for (let i = 0; i < v; i++) {
    if (weights[i] > 0) {
      const b = (ONE_BITS - bits[i]) >>> BIN_SHIFT;
      if (b < cut) out[n++] = i;
      else if (b === cut) inCut[m++] = i;
    }
  }
  const sorted = inCut.subarray(0, m).sort((a, b) => weights[b] - weights[a] || a - b);

  let keep = Math.min(m, k - countBefore);
  let cumulative = massBefore;
  for (let j = 0; j < keep; j++) {
    cumulative += weights[sorted[j]];
    if (cumulative >= target) {
      let end = j + 1;
      while (end < m && weights[sorted[end]] === weights[sorted[j]]) end++; // ChatRWKV keeps ties
      keep = Math.min(keep, end);
      break;
    }
  }
  out.set(sorted.subarray(0, keep), n);
  return n + keep;
}
