import { ElemType, OnnxGraphBuilder } from '../onnx/onnx-graph-builder.js';
import { f16Bits } from '../model/tensor.js';
import { quantizeBlockwise } from './weight-quantization.js';

/** Storage of the large projection matrices (r/k/v/o, FFN, head). Everything else stays fp32. */
export type WeightDType = 'fp32' | 'fp16' | 'int8' | 'int4';
export const WEIGHT_DTYPES: readonly WeightDType[] = ['fp32', 'fp16', 'int8', 'int4'];

/** Block size of the weight-only quantisation (values per scale along the input dimension). */
export const QUANT_BLOCK_SIZE = 32;

/**
 * Emits `x · Wᵀ` for an nn.Linear weight W [out, in] in the chosen storage:
 * - fp32: Gemm(x, W, transB) on W as stored;
 * - fp16: Wᵀ stored as float16, cast to float32 inside the graph (halves the file; see BENCHMARKS.md);
 * - int8 / int4: com.microsoft MatMulNBits, symmetric per-block scales, activations quantised on the fly
 *   (accuracy_level 4), which runs an int8 dot-product kernel on x86.
 */
export class LinearWeights {
  constructor(
    private readonly g: OnnxGraphBuilder,
    private readonly dtype: WeightDType,
  ) {}

  apply(x: string, name: string, w: Float32Array, outDim: number, inDim: number): string {
    const { g } = this;
    switch (this.dtype) {
      case 'fp32':
        // Gemm with transB reads W in its stored [out, in] layout; at batch 1 it streams rows with dot
        // products, measurably faster than MatMul against Wᵀ on onnxruntime's CPU provider (BENCHMARKS.md).
        return g.op('Gemm', [x, g.weightF32(name, [outDim, inDim], w)], { transB: 1 });
      case 'fp16': {
        const half = g.initializer(
          name,
          ElemType.float16,
          [inDim, outDim],
          toFloat16(transpose(w, outDim, inDim)),
        );
        return g.op('MatMul', [x, g.op('Cast', [half], { to: ElemType.float })]);
      }
      case 'int8':
      case 'int4': {
        const bits = this.dtype === 'int8' ? 8 : 4;
        const q = quantizeBlockwise(w, outDim, inDim, bits, QUANT_BLOCK_SIZE);
        const packed = g.initializer(
          `${name}.q${bits}`,
          ElemType.uint8,
          [outDim, q.blocksPerRow, q.blobBytes],
          q.data,
        );
        const scales = g.weightF32(`${name}.scales`, [outDim * q.blocksPerRow], q.scales);
        return g.op(
          'MatMulNBits',
          [x, packed, scales],
          { K: inDim, N: outDim, bits, block_size: QUANT_BLOCK_SIZE, accuracy_level: 4 },
          { domain: 'com.microsoft' },
        );
      }
    }
  }
}

/** [rows, cols] row-major → [cols, rows] row-major. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const TILE = 64;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const rEnd = Math.min(r0 + TILE, rows);
      const cEnd = Math.min(c0 + TILE, cols);
      for (let r = r0; r < rEnd; r++) {
        for (let c = c0; c < cEnd; c++) out[c * rows + r] = w[r * cols + c];
      }
    }
  }
  return out;
}

/** float32 → IEEE binary16 bits, round to nearest even. */
export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16Bits(bits[i]);
  return out;
}
