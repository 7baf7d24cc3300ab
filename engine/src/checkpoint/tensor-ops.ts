import type { StoredTensor } from '../model/tensor.js';
import { bytesPerElement } from '../model/tensor.js';

/** Byte-level tensor reshuffles used to bring foreign layouts to the official one. */

/** [rows, cols] → [cols, rows], any dtype. LoRA matrices are small, so a plain loop is enough. */
export function transpose2d(t: StoredTensor): StoredTensor {
  const [rows, cols] = t.shape;
  const e = bytesPerElement(t.dtype);
  const src = t.bytes;
  const out = new Uint8Array(src.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const from = (r * cols + c) * e;
      const to = (c * rows + r) * e;
      for (let b = 0; b < e; b++) out[to + b] = src[from + b];
    }
  }
  return { dtype: t.dtype, shape: [cols, rows], bytes: out };
}

/** Same bytes, new shape (caller guarantees the element count matches). */
export function reshape(t: StoredTensor, shape: readonly number[]): StoredTensor {
  return { dtype: t.dtype, shape, bytes: t.bytes };
}

/** Row `i` of a 2-D tensor as a [cols] tensor sharing the bytes. */
export function row(t: StoredTensor, i: number): StoredTensor {
  const cols = t.shape[1];
  const n = cols * bytesPerElement(t.dtype);
  return { dtype: t.dtype, shape: [cols], bytes: t.bytes.subarray(i * n, (i + 1) * n) };
}
