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
