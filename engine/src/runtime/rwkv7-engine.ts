import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import { Rwkv7Checkpoint, Rwkv7Config, stateFloats } from '../model/rwkv7-config.js';
import { GraphIO, Rwkv7GraphSpec } from '../graph/rwkv7-graph.js';
import { WeightDType } from '../graph/linear-weights.js';
import { cachedGraph, defaultCacheDir } from './graph-cache.js';

export interface EngineOptions {
  /** Storage of the large projection matrices. Default fp32. */
  readonly weights?: WeightDType;
  /**
   * Tokens per prefill run (one chunk of the closed-form recurrence). Default 32: on a trained model (decays at
   * the soft clamp, large in-context rates) the closed form's Neumann-product inverse loses fp32 precision at
   * 64 (logits off by 0.06 against step-by-step decode, training/src/parity.spec.ts), not at 32 (1e-5).
   */
  readonly prefillChunk?: number;
  /** onnxruntime intra-op threads. Default: the number of CPUs. */
  readonly threads?: number;
  /**
   * Let onnxruntime's threads spin between runs. Lowest latency for one busy engine; turn it off when
   * several engines share a process, or idle threads burn the cores.
   */
  readonly spinning?: boolean;
  readonly cacheDir?: string;
  /**
   * Flush subnormal floats to zero (default true). A fresh or slowly-fed state decays into subnormals, which
   * cost x86 cores ~20% of decode speed (BENCHMARKS.md); the values lost are below 1e-38.
   */
  readonly flushDenormals?: boolean;
  /** wkv recurrence of the prefill graphs (see Rwkv7GraphSpec.recurrence). Default chunked. */
  readonly recurrence?: 'chunked' | 'unrolled';
}

export interface StepResult {
  /** [B, V] row-major. */
  readonly logits: Float32Array;
  /** [B, L·(2C + H·N²)] in the reference layout. */
  readonly state: Float32Array;
}

/**
 * RWKV-7 inference on onnxruntime-node. Three graphs, built from the checkpoint and cached on disk:
 * a batched single-token step, a chunked prefill that returns the last logits, and a chunked prefill that
 * returns every position's logits (for evaluation). Sessions are created on first use.
 */
export class Rwkv7Engine {
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  readonly config: Rwkv7Config;
  readonly stateSize: number;
  readonly weights: WeightDType;
  readonly prefillChunk: number;

  private ckpt: Rwkv7Checkpoint | undefined;

  private constructor(
    ckpt: Rwkv7Checkpoint,
    readonly fingerprint: string,
    private readonly options: EngineOptions,
  ) {
    this.ckpt = ckpt;
    this.config = ckpt.config;
    this.stateSize = stateFloats(ckpt.config);
    this.weights = options.weights ?? 'fp32';
    this.prefillChunk = options.prefillChunk ?? 32;
  }

  static create(ckpt: Rwkv7Checkpoint, fingerprint: string, options: EngineOptions = {}): Rwkv7Engine {
    return new Rwkv7Engine(ckpt, fingerprint, options);
  }

  /** A zeroed state for `batch` agents. */
  zeroState(batch = 1): Float32Array {
    return new Float32Array(batch * this.stateSize);
  }

  /** Builds (or finds in the cache) and opens every graph now rather than on first use. */
  async warmUp(kinds: GraphKind[] = ['step', 'prefill']): Promise<void> {
    await Promise.all(kinds.map((k) => this.session(k)));
  }

  /**
   * Drops the reference to the checkpoint's tensors so they can be garbage-collected; sessions already
   * open keep working, but a graph not yet opened can no longer be built.
   */
  dropCheckpoint(): void {
    this.ckpt = undefined;
  }

  /** Advances B agents by one token each. `state` is [B, S]; a new state array is returned. */
  async step(tokens: ArrayLike<number>, state: Float32Array): Promise<StepResult> {
    const B = tokens.length;
    this.checkState(state, B);
    const session = await this.session('step');
    const out = await session.run({
      [GraphIO.tokens]: new ort.Tensor('int64', toInt64(tokens, this.config.vocabSize), [B]),
      [GraphIO.state]: new ort.Tensor('float32', state, [B, this.stateSize]),
    });
    return {
      logits: out[GraphIO.logits].data as Float32Array,
      state: out[GraphIO.stateOut].data as Float32Array,
    };
  }

  /**
   * Feeds a whole prompt to one agent in chunks; returns the logits after its last token [V] and the new
   * state [S]. An empty prompt returns the state unchanged and no logits.
   */
  async prefill(
    tokens: ArrayLike<number>,
    state: Float32Array,
  ): Promise<{ logits?: Float32Array; state: Float32Array }> {
    this.checkState(state, 1);
    let current = state;
    let logits: Float32Array | undefined;
    for (let start = 0; start < tokens.length; start += this.prefillChunk) {
      const chunk = Array.from(tokens).slice(start, start + this.prefillChunk);
      const out = await this.runPrefill('prefill', chunk, current);
      current = out.state;
      logits = out.logits;
    }
    return { logits, state: current };
  }

  /**
   * Feeds one chunk (at most `prefillChunk` tokens, at least one) to each of B agents in one run: the
   * prefill graph is batched and length-masked, so agents with prompts of different lengths share it.
   * `state` is [B, S]; returns the logits after each agent's last token [B, V] and the new state [B, S].
   */
  async prefillBatch(chunks: readonly (readonly number[])[], state: Float32Array): Promise<StepResult> {
    const B = chunks.length;
    this.checkState(state, B);
    const T = this.prefillChunk;
    const tokens = new BigInt64Array(B * T);
    const lengths = new BigInt64Array(B);
    chunks.forEach((chunk, b) => {
      if (chunk.length < 1 || chunk.length > T)
        throw new RangeError(`chunk ${b} has ${chunk.length} tokens; expected 1..${T}`);
      for (let i = 0; i < chunk.length; i++)
        tokens[b * T + i] = BigInt(checkToken(chunk[i], this.config.vocabSize));
      lengths[b] = BigInt(chunk.length);
    });
    const session = await this.session('prefill');
    const out = await session.run({
      [GraphIO.tokens]: new ort.Tensor('int64', tokens, [B, T]),
      [GraphIO.state]: new ort.Tensor('float32', state, [B, this.stateSize]),
      [GraphIO.lengths]: new ort.Tensor('int64', lengths, [B]),
    });
    return {
      logits: out[GraphIO.logits].data as Float32Array,
      state: out[GraphIO.stateOut].data as Float32Array,
    };
  }

  /** Like prefill, but returns the logits at every position: [T, V] (row p = after tokens 0..p). */
  async evaluate(tokens: ArrayLike<number>, state: Float32Array): Promise<StepResult> {
    this.checkState(state, 1);
    const V = this.config.vocabSize;
    const logits = new Float32Array(tokens.length * V);
    let current = state;
    for (let start = 0; start < tokens.length; start += this.prefillChunk) {
      const chunk = Array.from(tokens).slice(start, start + this.prefillChunk);
      const out = await this.runPrefill('evaluate', chunk, current);
      logits.set(out.logits.subarray(0, chunk.length * V), start * V);
      current = out.state;
    }
    return { logits, state: current };
  }

  private async runPrefill(
    kind: 'prefill' | 'evaluate',
    chunk: number[],
    state: Float32Array,
  ): Promise<StepResult> {
    const T = this.prefillChunk;
    const padded = new BigInt64Array(T);
    for (let i = 0; i < chunk.length; i++) padded[i] = BigInt(checkToken(chunk[i], this.config.vocabSize));
    const session = await this.session(kind);
    const out = await session.run({
      [GraphIO.tokens]: new ort.Tensor('int64', padded, [1, T]),
      [GraphIO.state]: new ort.Tensor('float32', state, [1, this.stateSize]),
      [GraphIO.lengths]: new ort.Tensor('int64', BigInt64Array.from([BigInt(chunk.length)]), [1]),
    });
    return {
      logits: out[GraphIO.logits].data as Float32Array,
      state: out[GraphIO.stateOut].data as Float32Array,
    };
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) await (await s).release();
  }

  private checkState(state: Float32Array, batch: number): void {
    if (state.length !== batch * this.stateSize) {
      throw new RangeError(`state has ${state.length} floats, expected ${batch} × ${this.stateSize}`);
    }
  }

  private session(kind: GraphKind): Promise<ort.InferenceSession> {
    let s = this.sessions.get(kind);
    if (!s) {
      s = this.openSession(kind);
      this.sessions.set(kind, s);
      s.catch(() => this.sessions.delete(kind));
    }
    return s;
  }

  private async openSession(kind: GraphKind): Promise<ort.InferenceSession> {
    const spec: Rwkv7GraphSpec =
      kind === 'step'
        ? { kind: 'step', weights: this.weights }
        : {
            kind: 'prefill',
            chunk: this.prefillChunk,
            logits: kind === 'evaluate' ? 'all' : 'last',
            weights: this.weights,
            recurrence: this.options.recurrence ?? 'chunked',
          };
    if (!this.ckpt) throw new Error(`the ${kind} graph was not opened before the checkpoint was dropped`);
    const { modelPath } = cachedGraph(
      this.ckpt,
      this.fingerprint,
      spec,
      this.options.cacheDir ?? defaultCacheDir(),
    );
    return ort.InferenceSession.create(modelPath, sessionOptions(this.options));
  }
}

export type GraphKind = 'step' | 'prefill' | 'evaluate';

function sessionOptions(options: EngineOptions): ort.InferenceSession.SessionOptions {
  const threads = options.threads ?? Math.max(1, os.availableParallelism());
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: {
      session: {
        intra_op: { allow_spinning: options.spinning === false ? '0' : '1' },
        // decayed state entries drift towards zero; subnormal arithmetic is slow on x86
        set_denormal_as_zero: options.flushDenormals === false ? '0' : '1',
      },
    },
  };
}

function checkToken(t: number, vocab: number): number {
  if (!Number.isInteger(t) || t < 0 || t >= vocab)
    throw new RangeError(`token id ${t} is outside 0..${vocab - 1}`);
  return t;
}

function toInt64(tokens: ArrayLike<number>, vocab: number): BigInt64Array {
  const out = new BigInt64Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[i] = BigInt(checkToken(tokens[i], vocab));
  return out;
}
