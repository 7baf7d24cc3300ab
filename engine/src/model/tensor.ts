/** Element types a checkpoint may store. Everything is converted to float32 before graph building. */
export type StoredDType = 'bf16' | 'f16' | 'f32';

/** A tensor as read from a checkpoint: raw little-endian bytes in its stored dtype, row-major. */
export interface StoredTensor {
  readonly dtype: StoredDType;
  readonly shape: readonly number[];
  /** Exactly `numel(shape) * bytesPerElement(dtype)` bytes. */
  readonly bytes: Uint8Array;
}

export function bytesPerElement(dtype: StoredDType): number {
  return dtype === 'f32' ? 4 : 2;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Widens a stored tensor to float32 (bf16 and f16 convert exactly). */
export function toFloat32(t: StoredTensor): Float32Array {
  const n = numel(t.shape);
  const out = new Float32Array(n);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  if (t.dtype === 'f32') {
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  } else if (t.dtype === 'bf16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

/** IEEE 754 binary16 → number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** IEEE binary16 bits of a float32 given as its raw bits. */
export function f16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0);
  if (abs >= 0x477ff000) return sign | 0x7c00; // rounds to >= 65520: overflow to infinity
  if (abs < 0x33000001) return sign; // below half the smallest subnormal: zero
  const exp = abs >>> 23;
  if (exp < 113) {
    // Subnormal half: shift the mantissa (with implicit 1) right, round to nearest even.
    const mant = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - exp;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = ((exp - 112) << 10) | ((abs >>> 13) & 0x3ff);
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}
