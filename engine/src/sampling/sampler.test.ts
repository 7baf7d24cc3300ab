import { PenaltyTracker } from './penalty-tracker';
import { argmax, isStopToken, SamplerContext, sampleToken } from './sampler';
import { resolveSamplingParams, type SamplingParams } from './sampling-params';
import { SeededRng } from './seeded-rng';

const noPenalty = { presencePenalty: 0, frequencyPenalty: 0, penaltyDecay: 1 };
const params = (p: Partial<SamplingParams>) => resolveSamplingParams({ ...noPenalty, ...p });

/** Random logits of vocabulary size, with a clear winner at `peak`. */
function lmLogits(v = 65536, seed = 1, peak = 1234): Float32Array {
  const rng = SeededRng.fromSeed(seed);
  const logits = new Float32Array(v);
  for (let i = 0; i < v; i++) logits[i] = rng.nextFloat() * 10 - 5;
  logits[peak] = 9;
  return logits;
}

function draw(logits: Float32Array, p: SamplingParams, n: number, seed = 1, ctx = SamplerContext.create(p)) {
  const rng = SeededRng.fromSeed(seed);
  return Array.from({ length: n }, () => sampleToken(logits, p, ctx, rng));
}

function counts(tokens: number[], v: number): number[] {
  const c = new Array(v).fill(0);
  for (const t of tokens) c[t]++;
  return c;
}

const softmax = (xs: number[]) => {
  const m = Math.max(...xs);
  const e = xs.map((x) => Math.exp(x - m));
  const z = e.reduce((a, b) => a + b);
  return e.map((x) => x / z);
};

/** Pearson chi-square of observed counts against expected probabilities. */
const chiSquare = (observed: number[], probs: number[], n: number) =>
  observed.reduce((acc, o, i) => acc + (o - n * probs[i]) ** 2 / (n * probs[i]), 0);

describe('sampleToken', () => {
  test('same seed gives the same sequence; another seed does not', () => {
    const logits = lmLogits();
    const p = params({ temperature: 1, topP: 1 });
    expect(draw(logits, p, 50, 5)).toEqual(draw(logits, p, 50, 5));
    expect(draw(logits, p, 50, 6)).not.toEqual(draw(logits, p, 50, 5));
  });

  test('temperature 0 is argmax and takes the first of tied maxima', () => {
    const logits = lmLogits();
    expect(draw(logits, params({ temperature: 0 }), 5)).toEqual([1234, 1234, 1234, 1234, 1234]);
    const tied = Float32Array.of(0, 3, 1, 3, 3);
    expect(draw(tied, params({ temperature: 0 }), 3)).toEqual([1, 1, 1]);
    expect(argmax(Float32Array.of(NaN, -Infinity, -2, NaN))).toBe(2);
    const rng = SeededRng.fromSeed(3);
    const before = rng.getState();
    sampleToken(logits, params({ temperature: 0 }), SamplerContext.create(params({})), rng);
    expect(rng.getState()).toEqual(before); // greedy consumes no randomness
  });

  test('top-k = 1 and a tiny top-p are greedy', () => {
    const logits = lmLogits();
    const greedy = argmax(logits);
    expect(new Set(draw(logits, params({ temperature: 1.5, topP: 1, topK: 1 }), 30))).toEqual(
      new Set([greedy]),
    );
    expect(new Set(draw(logits, params({ temperature: 1.5, topP: 1e-6 }), 30))).toEqual(new Set([greedy]));
    expect(new Set(draw(logits, params({ temperature: 1.5, topP: 0 }), 30))).toEqual(new Set([greedy]));
    const tied = Float32Array.of(0, 3, 1, 3);
    expect(new Set(draw(tied, params({ topP: 1, topK: 1 }), 50))).toEqual(new Set([1])); // lower id wins
  });

  test('temperature reshapes the distribution as softmax(logits / T)', () => {
    const raw = [1.0, 2.0, 0.5, 2.5, -1.0];
    const logits = Float32Array.from(raw);
    const n = 40_000;
    for (const t of [0.5, 1, 2]) {
      const observed = counts(draw(logits, params({ temperature: t, topP: 1 }), n, 11), raw.length);
      const expected = softmax(raw.map((x) => x / t));
      // 4 degrees of freedom: P(chi2 > 40) ≈ 4e-8.
      expect(chiSquare(observed, expected, n)).toBeLessThan(40);
    }
  });

  test('top-p keeps the ChatRWKV nucleus (measured at T=1) and renormalizes with temperature', () => {
    const raw = [2.0, 1.0, 0.0, -1.0, 3.0];
    const p1 = softmax(raw); // order: 4 (.64), 0 (.24), 1 (.09), 2, 3
    const topP = p1[4] + p1[0] + 0.01; // needs a third token: ids 4, 0, 1
    const n = 30_000;
    const t = 0.7;
    const observed = counts(draw(Float32Array.from(raw), params({ temperature: t, topP }), n, 3), 5);
    expect(observed[2]).toBe(0);
    expect(observed[3]).toBe(0);
    const kept = [0, 1, 4];
    const q = softmax(kept.map((i) => raw[i] / t));
    expect(
      chiSquare(
        kept.map((i) => observed[i]),
        q,
        n,
      ),
    ).toBeLessThan(35);
  });

  test('top-k keeps exactly the k most likely tokens', () => {
    const logits = lmLogits(65536, 9);
    const order = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
    const seen = new Set(draw(logits, params({ temperature: 3, topP: 1, topK: 5 }), 300));
    expect([...seen].sort()).toEqual(order.slice(0, 5).sort());
  });

  test('top-p on a flat 65536-token distribution (widest band) stays within the nucleus', () => {
    const logits = new Float32Array(65536);
    for (let i = 0; i < logits.length; i++) logits[i] = (i % 1000) / 1000; // many ties, flat
    const out = draw(logits, params({ topP: 0.5 }), 100);
    // The nucleus is the half of the mass with the largest logits (i % 1000 ≥ 423 holds ≈ 50%+).
    for (const t of out) expect(t % 1000).toBeGreaterThanOrEqual(400);
  });

  test('is fast on V = 65536', () => {
    const logits = lmLogits();
    const p = params({ temperature: 1, topP: 0.85, presencePenalty: 0.2, frequencyPenalty: 0.2 });
    const ctx = SamplerContext.create(p);
    const rng = SeededRng.fromSeed(1);
    for (let i = 0; i < 20; i++) ctx.penalties.record(sampleToken(logits, p, ctx, rng));
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) ctx.penalties.record(sampleToken(logits, p, ctx, rng));
    const perToken = (performance.now() - t0) / 200;
    console.log(`sampleToken on V=65536: ${perToken.toFixed(3)} ms per token`);
    expect(perToken).toBeLessThan(20);
  });

  test('does not modify the caller logits', () => {
    const logits = Float32Array.of(1, 2, 3);
    const p = params({ logitBias: { 0: 5 }, presencePenalty: 1 });
    const ctx = SamplerContext.create(p);
    ctx.penalties.record(2);
    sampleToken(logits, p, ctx, SeededRng.fromSeed(1));
    expect(Array.from(logits)).toEqual([1, 2, 3]);
  });

  test('logit bias: -Infinity bans, +Infinity forces, finite bias shifts', () => {
    const logits = lmLogits();
    expect(
      new Set(draw(logits, params({ temperature: 0, logitBias: { 1234: -Infinity } }), 5)).has(1234),
    ).toBe(false);
    expect(draw(logits, params({ topP: 1, logitBias: { 77: Infinity } }), 5)).toEqual([77, 77, 77, 77, 77]);
    const two = Float32Array.of(0, 0);
    const c = counts(draw(two, params({ topP: 1, logitBias: { 1: Math.log(3) } }), 20_000), 2);
    expect(c[1] / 20_000).toBeCloseTo(0.75, 1);
    expect(() =>
      sampleToken(
        two,
        params({ logitBias: { 5: 1 } }),
        SamplerContext.create(params({})),
        SeededRng.fromSeed(1),
      ),
    ).toThrow(/logitBias key 5/);
  });

  test('all tokens banned is an error, NaN logits are never sampled', () => {
    const p = params({ topP: 1 });
    const rng = SeededRng.fromSeed(1);
    expect(() => sampleToken(Float32Array.of(-Infinity, NaN), p, SamplerContext.create(p), rng)).toThrow(
      /every logit/,
    );
    expect(new Set(draw(Float32Array.of(NaN, 0, NaN, 0), p, 200))).toEqual(new Set([1, 3]));
  });

  test('repetition penalties lower a repeated token and fade with decay', () => {
    const p = params({ topP: 1, presencePenalty: 0.5, frequencyPenalty: 0.5, penaltyDecay: 0.9 });
    const logits = Float32Array.of(0, 0);
    const fresh = counts(draw(logits, p, 10_000), 2)[0] / 10_000;
    const ctx = SamplerContext.create(p);
    for (let i = 0; i < 5; i++) ctx.penalties.record(0);
    const penalized = counts(draw(logits, p, 10_000, 1, ctx), 2)[0] / 10_000;
    expect(fresh).toBeCloseTo(0.5, 1);
    expect(penalized).toBeLessThan(0.1); // count ≈ 4.1 → penalty ≈ 2.55 → p ≈ 0.07
  });

  test('isStopToken', () => {
    expect(isStopToken(0, params({}))).toBe(true);
    expect(isStopToken(11, params({ stopTokens: [261, 11] }))).toBe(true);
    expect(isStopToken(12, params({ stopTokens: [261, 11] }))).toBe(false);
  });
});

describe('PenaltyTracker', () => {
  test('ChatRWKV arithmetic: presence + frequency × decayed count', () => {
    const t = new PenaltyTracker({ presencePenalty: 0.2, frequencyPenalty: 0.5, penaltyDecay: 0.5 });
    t.record(1); // {1: 1}
    t.record(1); // {1: 1.5}
    t.record(2); // {1: 0.75, 2: 1}
    expect(t.count(1)).toBeCloseTo(0.75, 12);
    expect(t.count(2)).toBe(1);
    const logits = new Float32Array(4);
    t.apply(logits);
    expect(Array.from(logits)).toEqual([0, -(0.2 + 0.5 * 0.75), -(0.2 + 0.5 * 1), 0].map(Math.fround));
    for (let i = 0; i < 60; i++) t.record(3);
    const later = new Float32Array(4);
    t.apply(later);
    expect(later[1]).toBeCloseTo(-0.2, 6); // frequency part has decayed away; presence stays
  });

  test('weight 0 records presence only (ChatRWKV whitespace/digit rule)', () => {
    const t = new PenaltyTracker({ presencePenalty: 1, frequencyPenalty: 1, penaltyDecay: 1 });
    t.record(7, 0);
    const logits = new Float32Array(8);
    t.apply(logits);
    expect(logits[7]).toBe(-1);
  });

  test('serializes through JSON, continues identically, and resets', () => {
    const t = new PenaltyTracker({ presencePenalty: 0.3, frequencyPenalty: 0.3, penaltyDecay: 0.996 });
    for (const tok of [5, 9, 5, 1000, 5, 9]) t.record(tok);
    const copy = PenaltyTracker.fromJSON(JSON.parse(JSON.stringify(t)));
    for (const x of [t, copy]) x.record(9);
    const a = new Float32Array(1001);
    const b = new Float32Array(1001);
    t.apply(a);
    copy.apply(b);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(copy.config).toEqual(t.config);
    const ctx = SamplerContext.fromJSON(JSON.parse(JSON.stringify(new SamplerContext(t))));
    expect(ctx.penalties.count(5)).toBe(t.count(5));
    t.reset();
    expect(t.count(5)).toBe(0);
  });

  test('penalized token outside the logits is an error', () => {
    const t = new PenaltyTracker({ presencePenalty: 1, frequencyPenalty: 0, penaltyDecay: 1 });
    t.record(10);
    expect(() => t.apply(new Float32Array(5))).toThrow(RangeError);
  });
});

describe('resolveSamplingParams', () => {
  test('defaults are ChatRWKV PIPELINE_ARGS', () => {
    expect(resolveSamplingParams()).toMatchObject({
      temperature: 1,
      topP: 0.85,
      topK: 0,
      penaltyDecay: 0.996,
    });
  });
  test.each([
    [{ temperature: -1 }, /temperature/],
    [{ topP: 1.5 }, /topP/],
    [{ topK: 2.5 }, /topK/],
    [{ penaltyDecay: 2 }, /penaltyDecay/],
    [{ logitBias: { 3: NaN } }, /logitBias\[3\]/],
    [{ stopStrings: [''] }, /stopStrings/],
    [{ seed: 0.5 }, /seed/],
  ])('rejects %j', (partial, message) => {
    expect(() => resolveSamplingParams(partial as Partial<SamplingParams>)).toThrow(message);
  });
});
