import { ElemType, OnnxGraphBuilder } from '../../onnx/onnx-graph-builder.js';

/** Width and depth of the transformer baseline; pick the values of the RWKV-7 model it is compared with. */
export interface TransformerShape {
  readonly nLayer: number;
  readonly nEmbd: number;
  /** Channels per attention head (N); the head count is nEmbd / headSize. */
  readonly headSize: number;
  readonly vocabSize: number;
  /** Hidden width of the feed-forward block (4C for the RWKV-7 shapes). */
  readonly dimFfn: number;
}

/** The transformer counterparts of the RWKV-7 0.1B and 0.4B models (same L, C, head size, vocab, FFN). */
export const TRANSFORMER_SHAPES = {
  '0.1B': { nLayer: 12, nEmbd: 768, headSize: 64, vocabSize: 65536, dimFfn: 3072 },
  '0.4B': { nLayer: 24, nEmbd: 1024, headSize: 64, vocabSize: 65536, dimFfn: 4096 },
} as const satisfies Record<string, TransformerShape>;

/** Names of the decode graph's inputs and outputs. */
export const TransformerIO = {
  /** int64 [1]: the new token. */
  token: 'token',
  /** float32 [1, V]. */
  logits: 'logits',
  /** Input, float32 [H, N, ctx]: layer l's cached keys, pre-transposed. */
  pastKey: (layer: number): string => `past_k_${layer}`,
  /** Input, float32 [H, ctx, N]: layer l's cached values. */
  pastValue: (layer: number): string => `past_v_${layer}`,
  /** Output, float32 [H, N, 1]: the new token's key, to be appended to `past_k` at index ctx of its last axis. */
  newKey: (layer: number): string => `k_${layer}`,
  /** Output, float32 [H, 1, N]: the new token's value, to be appended to `past_v` as row ctx. */
  newValue: (layer: number): string => `v_${layer}`,
} as const;

/** The symbolic name of the context-length dimension of the KV cache inputs. */
export const CONTEXT_DIM = 'ctx';

export const LAYER_NORM_EPS = 1e-5;

export interface TransformerLayerWeights {
  readonly ln1Weight: Float32Array; // [C]
  readonly ln1Bias: Float32Array; // [C]
  /** [C, 3C], applied as x·W; columns are q | k | v, each head-major (column h·N + n). */
  readonly qkv: Float32Array;
  /** [C, C], applied as x·W. */
  readonly out: Float32Array;
  readonly ln2Weight: Float32Array; // [C]
  readonly ln2Bias: Float32Array; // [C]
  /** [C, F], applied as x·W. */
  readonly ffnUp: Float32Array;
  /** [F, C], applied as x·W. */
  readonly ffnDown: Float32Array;
}

export interface TransformerWeights {
  /** [V, C]. */
  readonly embedding: Float32Array;
  readonly layers: readonly TransformerLayerWeights[];
  readonly lnOutWeight: Float32Array; // [C]
  readonly lnOutBias: Float32Array; // [C]
  /** [C, V], applied as x·W. */
  readonly head: Float32Array;
}

export function headCount(shape: TransformerShape): number {
  return shape.nEmbd / shape.headSize;
}

export function checkTransformerShape(shape: TransformerShape): void {
  for (const key of ['nLayer', 'nEmbd', 'headSize', 'vocabSize', 'dimFfn'] as const) {
    const v = shape[key];
    if (!Number.isInteger(v) || v < 1)
      throw new RangeError(`transformer shape: ${key} must be a positive integer, got ${v}`);
  }
  if (shape.nEmbd % shape.headSize !== 0) {
    throw new RangeError(
      `transformer shape: nEmbd ${shape.nEmbd} is not a multiple of headSize ${shape.headSize}`,
    );
  }
}

/**
 * mulberry32 seeded from (seed, stream name): each tensor gets its own stream, so the weights do not depend on
 * generation order. Statistical quality is ample for random benchmark weights.
 */
function streamRng(seed: number, stream: string): () => number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ Math.floor(seed / 0x100000000), 0x9e3779b1) >>> 0;
  let a = h;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values with standard deviation `std` (uniform on ±std·√3), plus `mean`. */
function randomTensor(size: number, seed: number, stream: string, std: number, mean = 0): Float32Array {
  const next = streamRng(seed, stream);
  const amp = 2 * std * Math.sqrt(3);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = mean + (next() - 0.5) * amp;
  return out;
}

/**
 * Random fp32 weights for `shape`, reproducible from `seed`. Projections are scaled ~1/√(fan-in) so activations
 * stay O(1) through the depth; LayerNorm scales are near 1 and biases near 0 (non-trivial, so tests see them).
 */
export function generateTransformerWeights(shape: TransformerShape, seed: number): TransformerWeights {
  checkTransformerShape(shape);
  const { nLayer: L, nEmbd: C, vocabSize: V, dimFfn: F } = shape;
  const inv = (fanIn: number) => 1 / Math.sqrt(fanIn);
  const layers: TransformerLayerWeights[] = [];
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}.`;
    layers.push({
      ln1Weight: randomTensor(C, seed, p + 'ln1.weight', 0.1, 1),
      ln1Bias: randomTensor(C, seed, p + 'ln1.bias', 0.1),
      qkv: randomTensor(C * 3 * C, seed, p + 'attn.qkv', inv(C)),
      out: randomTensor(C * C, seed, p + 'attn.out', inv(C)),
      ln2Weight: randomTensor(C, seed, p + 'ln2.weight', 0.1, 1),
      ln2Bias: randomTensor(C, seed, p + 'ln2.bias', 0.1),
      ffnUp: randomTensor(C * F, seed, p + 'ffn.up', inv(C)),
      ffnDown: randomTensor(F * C, seed, p + 'ffn.down', inv(F)),
    });
  }
  return {
    embedding: randomTensor(V * C, seed, 'emb', 1),
    layers,
    lnOutWeight: randomTensor(C, seed, 'ln_out.weight', 0.1, 1),
    lnOutBias: randomTensor(C, seed, 'ln_out.bias', 0.1),
    head: randomTensor(C * V, seed, 'head', inv(C)),
  };
}

/**
 * A GPT-style pre-LayerNorm decoder for ONE new token at batch 1, with a KV cache, for the side-by-side
 * benchmark against RWKV-7 (same width, depth, head size, vocabulary and FFN width; same builder, same runtime).
 *
 * Inputs:  `token` int64 [1]; per layer `past_k_l` [H, N, ctx] and `past_v_l` [H, ctx, N] (ctx symbolic).
 * Outputs: `logits` [1, V]; per layer the new token's `k_l` [H, N, 1] and `v_l` [H, 1, N].
 *
 * The keys are cached pre-transposed so q·Kᵀ is a plain batched MatMul [H,1,N]×[H,N,ctx]. The graph never
 * concatenates or copies the cache: it concatenates only the score vectors [past | new] for the softmax and
 * splits the weighted sum into probs_past·V_past + prob_new·v_new. A runtime appends `k_l` / `v_l` to its
 * preallocated cache after each step. Per token, attention reads the whole cache (2·L·ctx·C floats), which is
 * the term that grows with context; everything else is the same fixed cost as an RWKV-7 step's projections.
 *
 * There is no positional encoding (neither rotary nor learned positions): rotary adds O(C) element-wise work on
 * q and the new k per layer, a learned table one [C] add, neither depends on ctx, so leaving them out does not
 * change the cost being compared. Projections have no biases (as in most current LLMs). FFN: C → F, ReLU², → C.
 */
export function buildTransformerDecodeGraph(shape: TransformerShape, seed: number): OnnxGraphBuilder {
  return buildTransformerDecodeGraphFromWeights(shape, generateTransformerWeights(shape, seed));
}

/** As `buildTransformerDecodeGraph`, from given weights (the builder keeps references, it does not copy them). */
export function buildTransformerDecodeGraphFromWeights(
  shape: TransformerShape,
  w: TransformerWeights,
): OnnxGraphBuilder {
  checkTransformerShape(shape);
  const { nLayer: L, nEmbd: C, headSize: N, vocabSize: V, dimFfn: F } = shape;
  const H = headCount(shape);
  const g = new OnnxGraphBuilder('transformer_decode');

  const layerNorm = (x: string, prefix: string, weight: Float32Array, bias: Float32Array): string =>
    g.op(
      'LayerNormalization',
      [x, g.weightF32(`${prefix}.weight`, [C], weight), g.weightF32(`${prefix}.bias`, [C], bias)],
      { axis: -1, epsilon: { float: LAYER_NORM_EPS } },
    );

  const token = g.input(TransformerIO.token, ElemType.int64, [1]);
  const emb = g.weightF32('emb', [V, C], w.embedding);
  let x = g.op('Gather', [emb, token], { axis: 0 }); // [1, C]

  const headsRow = g.constI64([H, 1, N]);
  const headsCol = g.constI64([H, N, 1]);
  const rowC = g.constI64([1, C]);
  const lastAxis = g.constI64([2]);
  for (let l = 0; l < L; l++) {
    const lw = w.layers[l];
    const p = `blocks.${l}.`;
    const pastK = g.input(TransformerIO.pastKey(l), ElemType.float, [H, N, CONTEXT_DIM]);
    const pastV = g.input(TransformerIO.pastValue(l), ElemType.float, [H, CONTEXT_DIM, N]);

    // attention
    const h = layerNorm(x, p + 'ln1', lw.ln1Weight, lw.ln1Bias);
    const qkv = g.op('MatMul', [h, g.weightF32(p + 'attn.qkv', [C, 3 * C], foldQueryScale(lw.qkv, C, N))]); // [1, 3C]
    const [q, k, v] = g.opMulti('Split', [qkv, g.constI64([C, C, C])], { axis: 1 }, { count: 3 });
    // [1, C] head-major reshapes to [H, 1, N] / [H, N, 1] without moving data
    const qh = g.op('Reshape', [q, headsRow]); // already q / √N (folded into the weights)
    const kNew = g.op('Reshape', [k, headsCol]); // [H, N, 1]
    const vNew = g.op('Reshape', [v, headsRow]); // [H, 1, N]
    g.output(TransformerIO.newKey(l), ElemType.float, [H, N, 1], kNew);
    g.output(TransformerIO.newValue(l), ElemType.float, [H, 1, N], vNew);

    const scoresPast = g.op('MatMul', [qh, pastK]); // [H, 1, ctx]
    const scoreNew = g.op('MatMul', [qh, kNew]); // [H, 1, 1]
    const probs = g.op('Softmax', [g.op('Concat', [scoresPast, scoreNew], { axis: -1 })], { axis: -1 }); // [H,1,ctx+1]
    const probsPast = g.op('Slice', [probs, g.constI64([0]), g.constI64([-1]), lastAxis]); // [H, 1, ctx]
    const probNew = g.op('Slice', [probs, g.constI64([-1]), g.constI64([Number.MAX_SAFE_INTEGER]), lastAxis]);
    const attn = g.op('Add', [g.op('MatMul', [probsPast, pastV]), g.op('Mul', [probNew, vNew])]); // [H, 1, N]
    const attnOut = g.op('MatMul', [
      g.op('Reshape', [attn, rowC]),
      g.weightF32(p + 'attn.out', [C, C], lw.out),
    ]);
    x = g.op('Add', [x, attnOut]);

    // feed-forward
    const h2 = layerNorm(x, p + 'ln2', lw.ln2Weight, lw.ln2Bias);
    const up = g.op('Relu', [g.op('MatMul', [h2, g.weightF32(p + 'ffn.up', [C, F], lw.ffnUp)])]);
    const down = g.op('MatMul', [g.op('Mul', [up, up]), g.weightF32(p + 'ffn.down', [F, C], lw.ffnDown)]);
    x = g.op('Add', [x, down]);
  }

  const logits = g.op('MatMul', [
    layerNorm(x, 'ln_out', w.lnOutWeight, w.lnOutBias),
    g.weightF32('head', [C, V], w.head),
  ]);
  g.output(TransformerIO.logits, ElemType.float, [1, V], logits);
  return g;
}

/**
 * A copy of the fused [C, 3C] QKV weight with the q columns multiplied by 1/√N, so the graph's q is already
 * q / √N and the scores need no scaling (q·k/√N exactly, up to rounding). Folding it into the weights rather
 * than multiplying q in the graph matters for speed: onnxruntime fuses such a Mul into the score MatMul as a
 * FusedMatMul with alpha ≠ 1, which misses MLAS's fast M = 1 GEMV path and reads the key cache ~3× slower.
 */
function foldQueryScale(qkv: Float32Array, C: number, N: number): Float32Array {
  const out = new Float32Array(qkv);
  const scale = 1 / Math.sqrt(N);
  for (let i = 0; i < C; i++) {
    const row = i * 3 * C;
    for (let j = 0; j < C; j++) out[row + j] *= scale;
  }
  return out;
}
