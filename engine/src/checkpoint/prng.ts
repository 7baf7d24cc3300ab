/**
 * Seeded PRNG for reproducible random checkpoints: xoshiro128** (fast, 32-bit, good statistics),
 * seeded through splitmix32 from (seed, stream name) so every tensor has its own independent stream
 * and generation order does not matter. The bulk fillers keep the state in locals: V8 boxes 32-bit
 * values stored in object fields, which made a per-number method call ~10x slower.
 */
const TWO_POW_M32 = 2.3283064365386963e-10;
// Module-level aliases: inside Jest's vm realm every `Math.x` in a hot loop is a slow global lookup.
const { imul, log, sqrt } = Math;

export class Xoshiro128 {
  private readonly s = new Int32Array(4);

  constructor(seed: number, stream = '') {
    // Mix the full seed (including bits above 2^32) and the stream name into a 32-bit start value.
    let h = fnv1a(stream) ^ (seed >>> 0);
    h = imul(h ^ Math.floor(seed / 0x100000000), 0x9e3779b1);
    for (let i = 0; i < 4; i++) {
      h = (h + 0x9e3779b9) | 0;
      let z = h;
      z = imul(z ^ (z >>> 16), 0x85ebca6b);
      z = imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = z ^ (z >>> 16);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1; // all-zero is a fixed point
  }

  /** out[0..n) = uniform in [0, 1). */
  fillUniform(out: Float32Array | Float64Array, n: number): void {
    const st = this.s;
    let s0 = st[0],
      s1 = st[1],
      s2 = st[2],
      s3 = st[3];
    for (let i = 0; i < n; i++) {
      const r = imul(rotl(imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      // 24 bits so a float32 never rounds up to 1.0.
      out[i] = (r >>> 8) * (TWO_POW_M32 * 256);
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }

  /** out[0..n) = standard normal (Marsaglia's polar method: no trig, both values of a pair used). */
  fillNormal(out: Float32Array | Float64Array, n: number): void {
    const st = this.s;
    let s0 = st[0],
      s1 = st[1],
      s2 = st[2],
      s3 = st[3];
    let i = 0;
    while (i < n) {
      let u = 0,
        v = 0,
        q = 0;
      do {
        let r = imul(rotl(imul(s1, 5), 7), 9);
        let t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        u = r * TWO_POW_M32 * 2; // r is signed: u in [-1, 1)
        r = imul(rotl(imul(s1, 5), 7), 9);
        t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = rotl(s3, 11);
        v = r * TWO_POW_M32 * 2;
        q = u * u + v * v;
      } while (q >= 1 || q === 0);
      const f = sqrt((-2 * log(q)) / q);
      out[i++] = u * f;
      if (i < n) out[i++] = v * f;
    }
    st[0] = s0;
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
