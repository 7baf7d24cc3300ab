import { Rwkv7Checkpoint, Rwkv7Config, stateFloats, stateFloatsPerLayer } from '../model/rwkv7-config.js';
import { toFloat32 } from '../model/tensor.js';
import { ElemType, OnnxGraphBuilder } from '../onnx/onnx-graph-builder.js';
import { LinearWeights, WeightDType } from './linear-weights.js';
import { chunkedWkv } from './wkv-chunked.js';

/**
 * Which graph to build.
 * - `step`: one token for each of `batch` agents: tokens [B] → logits [B, V].
 * - `prefill`: a chunk of `chunk` tokens for each of `batch` agents, with per-agent valid `lengths` [B]
 *   (positions at or past the length are padding and leave the state untouched): tokens [B, T] →
 *   logits [B, V] at the last valid position (`logits: 'last'`) or [B, T, V] (`logits: 'all'`).
 * Both take and return the packed state [B, L·(2C + H·N²)] in the reference layout.
 */
export interface Rwkv7GraphSpec {
  readonly kind: 'step' | 'prefill';
  /** Tokens per run in a prefill graph (static: the recurrence is unrolled). */
  readonly chunk?: number;
  readonly logits?: 'last' | 'all';
  readonly weights: WeightDType;
  /**
   * How a prefill graph runs the wkv recurrence over its chunk: `chunked` (default) solves the whole chunk
   * with batched matrix products (wkv-chunked.ts); `unrolled` emits one small step per position. Both are
   * kept so the benchmark can compare them.
   */
  readonly recurrence?: 'chunked' | 'unrolled';
}

/** Names of the graph's inputs and outputs, shared with the session wrapper. */
export const GraphIO = {
  tokens: 'tokens',
  state: 'state',
  lengths: 'lengths',
  logits: 'logits',
  stateOut: 'state_out',
} as const;

/** The decay soft clamp constant of the reference implementation (≈ exp(-0.5)). */
const DECAY_SCALE = -0.606531;
const GROUP_NORM_EPS = 64e-5;
const LAYER_NORM_EPS = 1e-5;

/** Builds the ONNX graph for an RWKV-7 checkpoint. The result is saved with `builder.save(path)`. */
export function buildRwkv7Graph(ckpt: Rwkv7Checkpoint, spec: Rwkv7GraphSpec): OnnxGraphBuilder {
  return new Rwkv7GraphWriter(ckpt, spec).build();
}

class Rwkv7GraphWriter {
  private readonly g: OnnxGraphBuilder;
  private readonly c: Rwkv7Config;
  private readonly T: number;
  private readonly linear: LinearWeights;
  /** prefill only: per-step validity masks [1, B, 1, 1, 1] and the one-hot of the last valid position [B, 1, T]. */
  private stepMasks: string[] = [];
  private lastOneHot = '';
  /** prefill only: 1 for real positions, 0 for padding, one per row [B·T, 1]. */
  private rowMask = '';

  constructor(
    private readonly ckpt: Rwkv7Checkpoint,
    private readonly spec: Rwkv7GraphSpec,
  ) {
    this.c = ckpt.config;
    this.T = spec.kind === 'step' ? 1 : (spec.chunk ?? 32);
    if (!Number.isInteger(this.T) || this.T < 1) throw new Error(`prefill chunk must be a positive integer`);
    this.g = new OnnxGraphBuilder(`rwkv7_${spec.kind}`);
    this.linear = new LinearWeights(this.g, spec.weights);
  }

  private f32(name: string): Float32Array {
    const t = this.ckpt.tensors.get(name);
    if (!t) throw new Error(`${this.ckpt.sourcePath}: tensor ${name} is missing`);
    return toFloat32(t);
  }

  /** A per-channel vector ([C] or [1,1,C] in the file) as a [C] initializer. */
  private vec(name: string): string {
    const data = this.f32(name);
    return this.g.weightF32(name, [data.length], data);
  }

  /** A LoRA matrix, stored [in, out] in the file and applied as x·W. */
  private lora(name: string, rows: number, cols: number): string {
    return this.g.weightF32(name, [rows, cols], this.f32(name));
  }

  /** An nn.Linear weight [out, in] applied as W·x, in the configured weight dtype. */
  private project(x: string, name: string, outDim: number, inDim: number): string {
    return this.linear.apply(x, name, this.f32(name), outDim, inDim);
  }

  build(): OnnxGraphBuilder {
    const { g, c, T } = this;
    const prefill = this.spec.kind === 'prefill';
    const B = 'batch';
    const tokensIn = g.input(GraphIO.tokens, ElemType.int64, prefill ? [B, T] : [B]);
    const state = g.input(GraphIO.state, ElemType.float, [B, stateFloats(c)]);
    if (prefill) this.buildMasks(g.input(GraphIO.lengths, ElemType.int64, [B]));

    const tokens = prefill ? tokensIn : g.op('Unsqueeze', [tokensIn, g.constI64([1])]);
    const emb = g.weightF32('emb.weight', [c.vocabSize, c.nEmbd], this.f32('emb.weight'));
    let x = g.op('Reshape', [g.op('Gather', [emb, tokens], { axis: 0 }), g.constI64([-1, c.nEmbd])]);
    x = this.layerNorm(x, 'blocks.0.ln0');

    const newState: string[] = [];
    let vFirst = '';
    for (let l = 0; l < c.nLayer; l++) {
      const base = l * stateFloatsPerLayer(c);
      const hnn = c.nHead * c.headSize * c.headSize;
      const attShift = this.sliceState(state, base, base + c.nEmbd);
      const wkv = this.sliceState(state, base + c.nEmbd, base + c.nEmbd + hnn);
      const ffnShift = this.sliceState(state, base + c.nEmbd + hnn, base + 2 * c.nEmbd + hnn);

      const att = this.timeMix(l, this.layerNorm(x, `blocks.${l}.ln1`), attShift, wkv, vFirst);
      vFirst = att.vFirst;
      x = g.op('Add', [x, att.out]);
      const ffn = this.channelMix(l, this.layerNorm(x, `blocks.${l}.ln2`), ffnShift);
      x = g.op('Add', [x, ffn.out]);
      newState.push(att.shift, g.op('Reshape', [att.wkv, g.constI64([-1, hnn])]), ffn.shift);
    }
    g.output(GraphIO.stateOut, ElemType.float, [B, stateFloats(c)], g.op('Concat', newState, { axis: 1 }));

    const allLogits = prefill && this.spec.logits === 'all';
    if (prefill && !allLogits) x = this.selectLast(x);
    const logits = this.project(this.layerNorm(x, 'ln_out'), 'head.weight', c.vocabSize, c.nEmbd);
    if (allLogits) {
      const shaped = g.op('Reshape', [logits, g.constI64([-1, T, c.vocabSize])]);
      g.output(GraphIO.logits, ElemType.float, [B, T, c.vocabSize], shaped);
    } else {
      g.output(GraphIO.logits, ElemType.float, [B, c.vocabSize], logits);
    }
    return g;
  }

  private sliceState(state: string, from: number, to: number): string {
    const { g } = this;
    return g.op('Slice', [state, g.constI64([from]), g.constI64([to]), g.constI64([1])]);
  }

  private layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, this.vec(`${prefix}.weight`), this.vec(`${prefix}.bias`)], {
      axis: -1,
      epsilon: { float: LAYER_NORM_EPS },
    });
  }

  /** lengths [B] → step masks and the last-position one-hot (prefill only). */
  private buildMasks(lengths: string): void {
    const { g, T } = this;
    const positions = g.constI64(
      Array.from({ length: T }, (_, i) => i),
      [1, T],
    );
    const lengthsCol = g.op('Unsqueeze', [lengths, g.constI64([1])]);
    const valid = g.op('Less', [positions, lengthsCol]); // [B, T] bool
    const validTB = g.op('Reshape', [
      g.op('Transpose', [valid], { perm: [1, 0] }),
      g.constI64([T, -1, 1, 1, 1]),
    ]);
    this.stepMasks = T === 1 ? [validTB] : g.opMulti('Split', [validTB], { axis: 0 }, { count: T });
    const last = g.op('Sub', [lengthsCol, g.constI64([1])]);
    const oneHot = g.op('Cast', [g.op('Equal', [positions, last])], { to: ElemType.float }); // [B, T]
    this.lastOneHot = g.op('Unsqueeze', [oneHot, g.constI64([1])]); // [B, 1, T]
    this.rowMask = g.op('Reshape', [g.op('Cast', [valid], { to: ElemType.float }), g.constI64([-1, 1])]);
  }

  /** Rows [B·T, C] → the row at each agent's last valid position, [B, C] (an exact one-hot product). */
  private selectLast(x: string): string {
    const { g, c, T } = this;
    const seq = g.op('Reshape', [x, g.constI64([-1, T, c.nEmbd])]);
    return g.op('Reshape', [g.op('MatMul', [this.lastOneHot, seq]), g.constI64([-1, c.nEmbd])]);
  }

  /**
   * Token shift: for rows [B·T, C] of normalised input and the previous shift state [B, C], returns the
   * previous row of every position and the new shift state.
   */
  private tokenShift(xln: string, shiftState: string): { prev: string; next: string } {
    const { g, c, T } = this;
    if (this.spec.kind === 'step') return { prev: shiftState, next: xln };
    const seq = g.op('Reshape', [xln, g.constI64([-1, T, c.nEmbd])]);
    const head = g.op('Unsqueeze', [shiftState, g.constI64([1])]);
    const parts = [head];
    if (T > 1) {
      parts.push(g.op('Slice', [seq, g.constI64([0]), g.constI64([T - 1]), g.constI64([1])]));
    }
    const prev = g.op('Reshape', [g.op('Concat', parts, { axis: 1 }), g.constI64([-1, c.nEmbd])]);
    return { prev, next: this.selectLast(xln) };
  }

  private timeMix(
    l: number,
    xln: string,
    shiftState: string,
    wkvState: string,
    vFirstIn: string,
  ): { out: string; shift: string; wkv: string; vFirst: string } {
    const { g, c } = this;
    const p = `blocks.${l}.att.`;
    const C = c.nEmbd;
    const { prev, next } = this.tokenShift(xln, shiftState);
    const xx = g.op('Sub', [prev, xln]);
    const mix = (name: string) => g.op('Add', [xln, g.op('Mul', [xx, this.vec(p + name)])]);
    const xr = mix('x_r');
    const xw = mix('x_w');
    const xk = mix('x_k');
    const xv = mix('x_v');
    const xa = mix('x_a');
    const xg = mix('x_g');

    const r = this.project(xr, p + 'receptance.weight', C, C);
    let k = this.project(xk, p + 'key.weight', C, C);
    let v = this.project(xv, p + 'value.weight', C, C);
    const wLora = g.op('MatMul', [
      g.op('Tanh', [g.op('MatMul', [xw, this.lora(p + 'w1', C, c.dimDecayLora)])]),
      this.lora(p + 'w2', c.dimDecayLora, C),
    ]);
    const aLora = g.op('MatMul', [
      g.op('MatMul', [xa, this.lora(p + 'a1', C, c.dimALora)]),
      this.lora(p + 'a2', c.dimALora, C),
    ]);
    const a = g.op('Sigmoid', [g.op('Add', [this.vec(p + 'a0'), aLora])]);
    const gate = g.op('MatMul', [
      g.op('Sigmoid', [g.op('MatMul', [xg, this.lora(p + 'g1', C, c.dimGateLora)])]),
      this.lora(p + 'g2', c.dimGateLora, C),
    ]);

    // kk = L2-normalise(k * k_k) per head, with F.normalize's 1e-12 floor.
    const headsShape = g.constI64([-1, c.nHead, c.headSize]);
    const kk0 = g.op('Reshape', [g.op('Mul', [k, this.vec(p + 'k_k')]), headsShape]);
    const norm = g.op('Max', [g.op('ReduceL2', [kk0], { axes: [-1], keepdims: 1 }), g.constF32([1e-12], [])]);
    const kk = g.op('Reshape', [g.op('Div', [kk0, norm]), g.constI64([-1, C])]);
    // k = k * (1 + (a - 1) * k_a)
    const one = g.constF32([1], []);
    k = g.op('Mul', [k, g.op('Add', [one, g.op('Mul', [g.op('Sub', [a, one]), this.vec(p + 'k_a')])])]);
    let vFirst = vFirstIn;
    if (l === 0) {
      vFirst = v; // layer 0 never applies the value residual, whatever the file holds
    } else {
      const vMix = g.op('Sigmoid', [
        g.op('Add', [
          this.vec(p + 'v0'),
          g.op('MatMul', [
            g.op('MatMul', [xv, this.lora(p + 'v1', C, c.dimVLora)]),
            this.lora(p + 'v2', c.dimVLora, C),
          ]),
        ]),
      ]);
      v = g.op('Add', [v, g.op('Mul', [g.op('Sub', [vFirst, v]), vMix])]);
    }
    const logDecay = g.op('Mul', [
      g.constF32([DECAY_SCALE], []),
      g.op('Sigmoid', [g.op('Add', [this.vec(p + 'w0'), wLora])]),
    ]);

    const { y, state } =
      this.spec.kind === 'prefill' && this.spec.recurrence !== 'unrolled'
        ? this.chunkedRecurrence(wkvState, { r, logDecay, k, v, kk, a })
        : this.wkvRecurrence(wkvState, { r, decay: g.op('Exp', [logDecay]), k, v, kk, a });

    // GroupNorm over each head (biased variance, eps 64e-5), then the r_k "bonus" term.
    const yh = g.op('Reshape', [y, headsShape]);
    const mean = g.op('ReduceMean', [yh], { axes: [-1], keepdims: 1 });
    const centred = g.op('Sub', [yh, mean]);
    const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: [-1], keepdims: 1 });
    const normed = g.op('Div', [
      centred,
      g.op('Sqrt', [g.op('Add', [variance, g.constF32([GROUP_NORM_EPS], [])])]),
    ]);
    const yn = g.op('Add', [
      g.op('Mul', [g.op('Reshape', [normed, g.constI64([-1, C])]), this.vec(p + 'ln_x.weight')]),
      this.vec(p + 'ln_x.bias'),
    ]);
    const rk = g.op('Reshape', [g.op('Mul', [g.op('Mul', [r, k]), this.vec(p + 'r_k')]), headsShape]);
    const bonus = g.op('Mul', [
      g.op('ReduceSum', [rk, g.constI64([-1])], { keepdims: 1 }),
      g.op('Reshape', [v, headsShape]),
    ]);
    const mixed = g.op('Add', [yn, g.op('Reshape', [bonus, g.constI64([-1, C])])]);
    const out = this.project(g.op('Mul', [mixed, gate]), p + 'output.weight', C, C);
    return { out, shift: next, wkv: state, vFirst };
  }

  /** Rows [B·T, C] → [B, H, N, T] for the chunked recurrence, and back. */
  private toChannelsByTime(x: string): string {
    const { g, c, T } = this;
    const seq = g.op('Reshape', [x, g.constI64([-1, T, c.nHead, c.headSize])]);
    return g.op('Transpose', [seq], { perm: [0, 2, 3, 1] });
  }

  private chunkedRecurrence(
    state: string,
    t: { r: string; logDecay: string; k: string; v: string; kk: string; a: string },
  ): { y: string; state: string } {
    const { g, c } = this;
    const H = c.nHead;
    const N = c.headSize;
    // padding positions must not touch the state: no decay, no writes
    const masked = (x: string) => this.toChannelsByTime(g.op('Mul', [x, this.rowMask]));
    const out = chunkedWkv(g, this.T, {
      S0: g.op('Reshape', [state, g.constI64([-1, H, N, N])]),
      r: this.toChannelsByTime(t.r),
      k: masked(t.k),
      v: this.toChannelsByTime(t.v),
      a: this.toChannelsByTime(g.op('Neg', [t.kk])),
      b: masked(g.op('Mul', [t.kk, t.a])),
      logDecay: masked(t.logDecay),
    });
    const yRows = g.op('Transpose', [out.y], { perm: [0, 3, 1, 2] }); // [B, T, H, N]
    return { y: g.op('Reshape', [yRows, g.constI64([-1, c.nEmbd])]), state: out.state };
  }

  /**
   * The wkv recurrence, unrolled over the T positions of the graph, in fp32:
   *   S ← S·diag(w) + (S·(−kk))·(kk⊙a)ᵀ + v·kᵀ ;  y = S·r
   * with S[h] an N×N matrix, row = value channel, column = key channel (the reference layout).
   * Per-position vectors are split once up front so each step is a handful of batched [B,H] matmuls.
   */
  private wkvRecurrence(
    state: string,
    t: { r: string; decay: string; k: string; v: string; kk: string; a: string },
  ): { y: string; state: string } {
    const { g, c, T } = this;
    const H = c.nHead;
    const N = c.headSize;
    // rows [B·T, C] (b-major) → [T, B, H, ...tail] so position t is a contiguous slice along axis 0
    const toTB = (x: string, tail: number[]): string => {
      if (T === 1) return g.op('Reshape', [x, g.constI64([1, -1, H, ...tail])]);
      const bt = g.op('Reshape', [x, g.constI64([-1, T, H * N])]);
      return g.op('Reshape', [g.op('Transpose', [bt], { perm: [1, 0, 2] }), g.constI64([T, -1, H, ...tail])]);
    };
    const split = (tb: string): string[] =>
      T === 1 ? [tb] : g.opMulti('Split', [tb], { axis: 0 }, { count: T });
    const col = [N, 1];
    const row = [1, N];
    const rs = split(toTB(t.r, col));
    const ws = split(toTB(t.decay, row));
    const negKk = split(toTB(g.op('Neg', [t.kk]), col));
    const vs = split(toTB(t.v, col));
    // [(kk⊙a)ᵀ ; kᵀ] stacked so one matmul applies both rank-one updates: [sa | v] · [(kk⊙a)ᵀ ; kᵀ]
    const kkaRow = toTB(g.op('Mul', [t.kk, t.a]), row);
    const rhs = split(g.op('Concat', [kkaRow, toTB(t.k, row)], { axis: -2 }));

    let S = g.op('Reshape', [state, g.constI64([1, -1, H, N, N])]);
    const ys: string[] = [];
    for (let i = 0; i < T; i++) {
      const sa = g.op('MatMul', [S, negKk[i]]);
      const update = g.op('MatMul', [g.op('Concat', [sa, vs[i]], { axis: -1 }), rhs[i]]);
      const next = g.op('Add', [g.op('Mul', [S, ws[i]]), update]);
      ys.push(g.op('MatMul', [next, rs[i]]));
      S = this.spec.kind === 'prefill' ? g.op('Where', [this.stepMasks[i], next, S]) : next;
    }
    const C = c.nEmbd;
    let y: string;
    if (T === 1) {
      y = g.op('Reshape', [ys[0], g.constI64([-1, C])]);
    } else {
      const tb = g.op('Reshape', [g.op('Concat', ys, { axis: 0 }), g.constI64([T, -1, C])]);
      y = g.op('Reshape', [g.op('Transpose', [tb], { perm: [1, 0, 2] }), g.constI64([-1, C])]);
    }
    return { y, state: S };
  }

  private channelMix(l: number, xln: string, shiftState: string): { out: string; shift: string } {
    const { g, c } = this;
    const p = `blocks.${l}.ffn.`;
    const { prev, next } = this.tokenShift(xln, shiftState);
    const kx = g.op('Add', [xln, g.op('Mul', [g.op('Sub', [prev, xln]), this.vec(p + 'x_k')])]);
    const hidden = g.op('Relu', [this.project(kx, p + 'key.weight', c.dimFfn, c.nEmbd)]);
    const out = this.project(g.op('Mul', [hidden, hidden]), p + 'value.weight', c.nEmbd, c.dimFfn);
    return { out, shift: next };
  }
}
