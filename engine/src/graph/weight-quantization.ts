/**
 * Weight-only block quantisation in the layout of onnxruntime's com.microsoft MatMulNBits:
 * W [N, K] (nn.Linear's [out, in]) is cut into blocks of `blockSize` along K; each block stores one float
 * scale and `bits`-bit codes packed low-first, dequantised as (code − 2^(bits−1)) · scale.
 * Like llama.cpp's Q4_0/Q8_0, the scale is chosen so the largest-magnitude value maps exactly to the most
 * negative code, which spends the extra negative code on precision instead of wasting it.
 */
export interface BlockQuantized {
  readonly data: Uint8Array;
  readonly scales: Float32Array;
  readonly blocksPerRow: number;
  readonly blobBytes: number;
}

export function quantizeBlockwise(
  w: Float32Array,
  rows: number,
  cols: number,
  bits: 4 | 8,
  blockSize: number,
): BlockQuantized {
  if (cols % blockSize !== 0)
    throw new Error(`input width ${cols} is not a multiple of block size ${blockSize}`);
  const blocksPerRow = cols / blockSize;
  const blobBytes = (blockSize * bits) / 8;
  const data = new Uint8Array(rows * blocksPerRow * blobBytes);
  const scales = new Float32Array(rows * blocksPerRow);
  const zero = 1 << (bits - 1);
  const qmax = zero - 1;
  const codes = new Uint8Array(blockSize);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * cols + b * blockSize;
      let extreme = 0;
      for (let i = 0; i < blockSize; i++) {
        const v = w[start + i];
        if (Math.abs(v) > Math.abs(extreme)) extreme = v;
      }
      const scale = extreme / -zero;
      const inv = scale === 0 ? 0 : 1 / scale;
      for (let i = 0; i < blockSize; i++) {
        const q = Math.max(-zero, Math.min(qmax, Math.round(w[start + i] * inv)));
        codes[i] = q + zero;
      }
      const blockIndex = r * blocksPerRow + b;
      scales[blockIndex] = scale;
      const out = blockIndex * blobBytes;
      if (bits === 8) {
        data.set(codes, out);
      } else {
        for (let i = 0; i < blockSize; i += 2) data[out + (i >> 1)] = codes[i] | (codes[i + 1] << 4);
      }
    }
  }
  return { data, scales, blocksPerRow, blobBytes };
}

/** The float values a quantised matrix stands for (used to measure quantisation error). */
export function dequantizeBlockwise(
  q: BlockQuantized,
  rows: number,
  cols: number,
  bits: 4 | 8,
  blockSize: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  const zero = 1 << (bits - 1);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < q.blocksPerRow; b++) {
      const blockIndex = r * q.blocksPerRow + b;
      const scale = q.scales[blockIndex];
      const base = blockIndex * q.blobBytes;
      for (let i = 0; i < blockSize; i++) {
        const code = bits === 8 ? q.data[base + i] : (q.data[base + (i >> 1)] >> ((i & 1) * 4)) & 0xf;
        out[r * cols + b * blockSize + i] = (code - zero) * scale;
      }
    }
  }
  return out;
}
