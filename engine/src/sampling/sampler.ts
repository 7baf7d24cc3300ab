/**
 * Picks the next token from a logits vector, in ChatRWKV's order:
 *   logit bias → repetition penalties → softmax → top-p (on the untempered probabilities) → top-k
 *   → temperature (p^(1/T)) → draw.
 * Temperature 0 is greedy: the first index of the largest adjusted logit, no randomness used.
 *
 * The caller's logits are never modified. After accepting a token, call `ctx.penalties.record(token)`
 * (sampleToken does not, so a stop token can be left out as ChatRWKV does).
 */
import { NucleusScratch, selectNucleus } from './nucleus.js';
import { PenaltyTracker, type PenaltyTrackerState } from './penalty-tracker.js';
import type { SamplingParams } from './sampling-params.js';
import type { RandomSource } from './seeded-rng.js';

// Module-scope aliases: global lookups (Math, Infinity) in hot loops are slow inside vm contexts (Jest).
const exp = Math.exp;
const NEG_INF = -Infinity;

interface Buffers {
  /** Adjusted logits. */
  readonly scratch: Float32Array;
  readonly weights: Float32Array;
  /** `weights` viewed as bits (for nucleus binning). */
  readonly weightBits: Uint32Array;
  readonly candidates: Int32Array;
  readonly nucleus: NucleusScratch;
}

export interface SamplerContextState {
  readonly penalties: PenaltyTrackerState;
}

/** Per-generation sampler state: occurrence counts, plus reusable scratch buffers (not serialized). */
export class SamplerContext {
  private buffers: Buffers | undefined;

  constructor(readonly penalties: PenaltyTracker) {}

  /** A fresh context whose penalties use the params' presence/frequency/decay. */
  static create(params: SamplingParams): SamplerContext {
    const { presencePenalty, frequencyPenalty, penaltyDecay } = params;
    return new SamplerContext(new PenaltyTracker({ presencePenalty, frequencyPenalty, penaltyDecay }));
  }

  static fromJSON(state: SamplerContextState): SamplerContext {
    return new SamplerContext(PenaltyTracker.fromJSON(state.penalties));
  }

  toJSON(): SamplerContextState {
    return { penalties: this.penalties.toJSON() };
  }

  /** @internal Scratch sized to the vocabulary, reused so sampling a token allocates nothing. */
  scratchFor(v: number): Buffers {
    if (this.buffers?.scratch.length !== v) {
      const weights = new Float32Array(v);
      this.buffers = {
        scratch: new Float32Array(v),
        weights,
        weightBits: new Uint32Array(weights.buffer),
        candidates: new Int32Array(v),
        nucleus: new NucleusScratch(v),
      };
    }
    return this.buffers;
  }
}

/** Penalty settings are taken from `ctx.penalties` (set when the context was created), not from `params`. */
export function sampleToken(
  logits: Float32Array,
  params: SamplingParams,
  ctx: SamplerContext,
  rng: RandomSource,
): number {
  const v = logits.length;
  const { scratch, weights, weightBits, candidates, nucleus } = ctx.scratchFor(v);
  scratch.set(logits);
  for (const key in params.logitBias) {
    const id = Number(key);
    if (!(Number.isInteger(id) && id >= 0 && id < v))
      throw new RangeError(`logitBias key ${key} is not a token id below the logits length ${v}`);
    scratch[id] += params.logitBias[id];
  }
  ctx.penalties.apply(scratch);

  const best = argmax(scratch);
  // +Infinity (a forcing bias) would make every weight NaN; it simply wins.
  if (params.temperature === 0 || scratch[best] === Infinity) return best;

  const max = scratch[best];
  const invT = 1 / params.temperature;
  if (!(params.topP < 1 || (params.topK > 0 && params.topK < v))) {
    // No truncation: p^(1/T) ∝ exp((logit - max) / T) in one pass over the vocabulary.
    return draw(weights, null, v, fillWeights(scratch, max, invT, weights), rng, best);
  }
  // Truncation is decided on the T=1 distribution (ChatRWKV), temperature then reshapes the kept tokens.
  const total = fillWeights(scratch, max, 1, weights);
  const n = selectNucleus(weights, weightBits, total, params.topP, params.topK, candidates, nucleus);
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const i = candidates[j];
    if (invT !== 1) weights[i] = exp((scratch[i] - max) * invT);
    sum += weights[i];
  }
  return draw(weights, candidates, n, sum, rng, best);
}

/** out[i] = exp((logits[i] - max) · invT), 0 for -Infinity or NaN (banned); returns the sum. */
function fillWeights(logits: Float32Array, max: number, invT: number, out: Float32Array): number {
  let total = 0;
  for (let i = 0; i < logits.length; i++) {
    const w = logits[i] > NEG_INF ? exp((logits[i] - max) * invT) : 0;
    out[i] = w;
    total += w;
  }
  return total;
}

/** Draws among `ids[0..n)` (or tokens 0..n-1 when `ids` is null) proportionally to `weights`. */
function draw(
  weights: Float32Array,
  ids: Int32Array | null,
  n: number,
  sum: number,
  rng: RandomSource,
  fallback: number,
): number {
  let r = rng.nextFloat() * sum;
  let last = fallback;
  for (let j = 0; j < n; j++) {
    const i = ids ? ids[j] : j;
    if (weights[i] <= 0) continue;
    last = i;
    r -= weights[i];
    if (r < 0) return i;
  }
  return last; // r left over by rounding: the last token with weight
}

/** First index of the largest value; NaN is ignored. Throws if no token has a finite-or-+∞ logit. */
export function argmax(values: Float32Array): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue) {
      bestValue = values[i];
      best = i;
    }
  }
  if (best < 0) throw new Error('no token can be sampled: every logit is -Infinity or NaN');
  return best;
}

/** Whether generation should end on this token. */
export function isStopToken(token: number, params: Pick<SamplingParams, 'stopTokens'>): boolean {
  return params.stopTokens.includes(token);
}
