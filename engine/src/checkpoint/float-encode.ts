import type { StoredDType } from '../model/tensor.js';
import { bytesPerElement, f16Bits } from '../model/tensor.js';

export { f16Bits };

/**
 * float32 → stored dtype, round-to-nearest-even, written straight into the output bytes in chunks so
 * generating a large tensor never holds a float32 copy of it.
 */
const CHUNK = 1 << 16;

/** bf16 bits of a float32 given as its raw bits (NaN kept quiet). */
function bf16Bits(u: number): number {
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 0x40) & 0xffff;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Encodes `count` values produced chunk-wise by `fill` (which writes into the scratch array). */
export function encodeGenerated(
  dtype: StoredDType,
  count: number,
  fill: (scratch: Float32Array, start: number, n: number) => void,
): Uint8Array {
  const out = new Uint8Array(count * bytesPerElement(dtype));
  const scratch = new Float32Array(Math.min(CHUNK, Math.max(count, 1)));
  const bits = new Uint32Array(scratch.buffer);
  // Typed-array stores are native-endian; the files are little-endian.
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const u16 = dtype !== 'f32' && le ? new Uint16Array(out.buffer) : null;
  const u32 = dtype === 'f32' && le ? new Uint32Array(out.buffer) : null;
  const dv = new DataView(out.buffer);
  for (let start = 0; start < count; start += scratch.length) {
    const n = Math.min(scratch.length, count - start);
    fill(scratch, start, n);
    if (dtype === 'f32') {
      if (u32) u32.set(bits.subarray(0, n), start);
      else for (let i = 0; i < n; i++) dv.setUint32((start + i) * 4, bits[i], true);
    } else {
      const conv = dtype === 'bf16' ? bf16Bits : f16Bits;
      if (u16 && dtype === 'bf16') for (let i = 0; i < n; i++) u16[start + i] = bf16Bits(bits[i]);
      else if (u16) for (let i = 0; i < n; i++) u16[start + i] = f16Bits(bits[i]);
      else for (let i = 0; i < n; i++) dv.setUint16((start + i) * 2, conv(bits[i]), true);
    }
  }
  return out;
}
