/**
 * A small, fast, seedable PRNG (xoshiro128**, Blackman & Vigna) whose whole state is four 32-bit words, so
 * an agent's random stream can be saved with its recurrent state and continued bit-exactly elsewhere.
 * Not cryptographic. Math.random cannot be seeded or saved, hence this.
 */

/** Anything that yields uniform floats in [0, 1); the sampler only needs this. */
export interface RandomSource {
  nextFloat(): number;
}

/** Serialized generator state (JSON-safe). */
export interface SeededRngState {
  readonly algorithm: 'xoshiro128**';
  readonly s: readonly [number, number, number, number];
}

// Module-scope alias: hot global lookups are slow inside vm contexts (Jest).
const imul = Math.imul;

export class SeededRng implements RandomSource {
  private constructor(
    private s0: number,
    private s1: number,
    private s2: number,
    private s3: number,
  ) {}

  /**
   * Seeds from any safe integer (negative allowed). The four state words come from SplitMix32 over the
   * low and high halves, so nearby seeds give unrelated streams and the state is never all zero.
   */
  static fromSeed(seed: number): SeededRng {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x100000000) >>> 0;
    let x = (lo ^ imul(hi, 0x9e3779b9)) >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = imul(z ^ (z >>> 16), 0x85ebca6b);
      z = imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    const words = [next(), next(), next(), next()] as const;
    if ((words[0] | words[1] | words[2] | words[3]) === 0) return new SeededRng(1, 0, 0, 0);
    return new SeededRng(words[0], words[1], words[2], words[3]);
  }

  static fromState(state: SeededRngState): SeededRng {
    const { algorithm, s } = state;
    if (algorithm !== 'xoshiro128**') throw new Error(`unsupported RNG algorithm ${String(algorithm)}`);
    if (
      !Array.isArray(s) ||
      s.length !== 4 ||
      !s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)
    )
      throw new Error('RNG state must be four 32-bit unsigned integers');
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new Error('RNG state must not be all zero');
    return new SeededRng(s[0], s[1], s[2], s[3]);
  }

  getState(): SeededRngState {
    return { algorithm: 'xoshiro128**', s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0] };
  }

  /** Next 32-bit unsigned output. */
  nextUint32(): number {
    const s1 = this.s1;
    const t = imul(s1, 5);
    const result = imul((t << 7) | (t >>> 25), 9) >>> 0;
    const shifted = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= shifted;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits (two outputs), so tail probabilities are not quantized. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}
