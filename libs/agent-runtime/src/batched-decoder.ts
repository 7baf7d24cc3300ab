/**
 * Shares one engine among many agents. Every agent's coroutine calls `step` for its next token; the
 * requests that arrive while the engine is busy (or in the same turn of the event loop) run together as
 * one batched engine step, which costs barely more than a single one because the weights are read once.
 * Prompts are fed one chunk at a time, alternating with decode batches, so a long prompt delays other
 * agents' next token by at most one chunk; the chunks of all waiting prompts run as one batched prefill.
 */
import type { Rwkv7Engine } from '@gooseherd/engine';

export interface DecodeResult {
  /** [V] */
  readonly logits: Float32Array;
  /** [S] */
  readonly state: Float32Array;
}

export interface PrefillResult {
  /** After the last token; absent for an empty prompt. */
  readonly logits?: Float32Array;
  readonly state: Float32Array;
}

export interface BatchedDecoderOptions {
  /** Most agents in one engine step. Default 32. */
  readonly maxBatch?: number;
  /** Told of every engine run, after it returned (for metrics; must not throw). */
  readonly observer?: DecoderObserver;
}

/** What a metrics exporter hears from the decoder. */
export interface DecoderObserver {
  /** A batched decode step: `batchSize` agents advanced by one token each in `seconds`. */
  step(batchSize: number, seconds: number): void;
  /** A batched prefill chunk: `prompts` prompts advanced by `tokens` tokens in all, in `seconds`. */
  prefill(prompts: number, tokens: number, seconds: number): void;
}

export interface DecoderStats {
  /** Engine step calls. */
  readonly batches: number;
  /** Tokens advanced by those calls (sum of batch sizes). */
  readonly tokensStepped: number;
  readonly meanBatchSize: number;
  readonly prefillChunks: number;
  readonly prefillTokens: number;
  /** Step requests waiting now. */
  readonly queuedSteps: number;
  /** Prompts being fed now. */
  readonly activePrefills: number;
}

interface StepRequest {
  readonly state: Float32Array;
  readonly token: number;
  readonly resolve: (r: DecodeResult) => void;
  readonly reject: (e: unknown) => void;
}

interface PrefillJob {
  state: Float32Array;
  logits?: Float32Array;
  next: number;
  readonly tokens: readonly number[];
  readonly resolve: (r: PrefillResult) => void;
  readonly reject: (e: unknown) => void;
}

export class BatchedDecoder {
  readonly maxBatch: number;
  private readonly observer: DecoderObserver | undefined;
  private readonly steps: StepRequest[] = [];
  private readonly prefills: PrefillJob[] = [];
  private running = false;
  private scheduled = false;
  /** Which kind of work ran last, so decode batches and prefill chunks take turns. */
  private lastRan: 'step' | 'prefill' = 'prefill';
  private batches = 0;
  private tokensStepped = 0;
  private prefillChunks = 0;
  private prefillTokens = 0;

  constructor(
    readonly engine: Rwkv7Engine,
    options: BatchedDecoderOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 32;
    this.observer = options.observer;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1)
      throw new RangeError(`maxBatch must be an integer ≥ 1, got ${this.maxBatch}`);
  }

  /**
   * Advances one agent by one token. The returned arrays may be views into a buffer shared with the
   * other agents of the batch: read them, or copy them, but do not write to them.
   */
  step(state: Float32Array, token: number): Promise<DecodeResult> {
    this.checkState(state);
    return new Promise((resolve, reject) => {
      this.steps.push({ state, token, resolve, reject });
      this.schedule();
    });
  }

  /** Feeds a prompt to one agent, a chunk per engine run. */
  prefill(state: Float32Array, tokens: readonly number[]): Promise<PrefillResult> {
    this.checkState(state);
    if (tokens.length === 0) return Promise.resolve({ state });
    return new Promise((resolve, reject) => {
      this.prefills.push({ state, next: 0, tokens, resolve, reject });
      this.schedule();
    });
  }

  get stats(): DecoderStats {
    return {
      batches: this.batches,
      tokensStepped: this.tokensStepped,
      meanBatchSize: this.batches === 0 ? 0 : this.tokensStepped / this.batches,
      prefillChunks: this.prefillChunks,
      prefillTokens: this.prefillTokens,
      queuedSteps: this.steps.length,
      activePrefills: this.prefills.length,
    };
  }

  private checkState(state: Float32Array): void {
    if (state.length !== this.engine.stateSize)
      throw new RangeError(`state has ${state.length} floats, expected ${this.engine.stateSize}`);
  }

  /**
   * Starts the next run after the current macrotask, so that every coroutine resumed by the previous
   * run (their continuations are microtasks) has queued its next step before the batch is cut.
   */
  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.runNext();
    });
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    const doPrefill = this.prefills.length > 0 && (this.steps.length === 0 || this.lastRan === 'step');
    if (!doPrefill && this.steps.length === 0) return;
    this.running = true;
    try {
      if (doPrefill) await this.runPrefillChunk();
      else await this.runStepBatch();
    } finally {
      this.running = false;
      if (this.steps.length > 0 || this.prefills.length > 0) this.schedule();
    }
  }

  private async runStepBatch(): Promise<void> {
    this.lastRan = 'step';
    const batch = this.steps.splice(0, this.maxBatch);
    const S = this.engine.stateSize;
    const V = this.engine.config.vocabSize;
    const tokens = batch.map((r) => r.token);
    const packed = packStates(
      batch.map((r) => r.state),
      S,
    );
    let out;
    const started = performance.now();
    try {
      out = await this.engine.step(tokens, packed);
    } catch (err) {
      for (const r of batch) r.reject(err);
      return;
    }
    this.observer?.step(batch.length, (performance.now() - started) / 1000);
    this.batches++;
    this.tokensStepped += batch.length;
    batch.forEach((r, i) =>
      r.resolve({
        logits: out.logits.subarray(i * V, (i + 1) * V),
        state: out.state.subarray(i * S, (i + 1) * S),
      }),
    );
  }

  private async runPrefillChunk(): Promise<void> {
    this.lastRan = 'prefill';
    // One chunk of each waiting prompt (up to maxBatch of them), run as one batched, length-masked prefill;
    // unfinished prompts go to the back of the line.
    const jobs = this.prefills.splice(0, this.maxBatch);
    const T = this.engine.prefillChunk;
    const S = this.engine.stateSize;
    const V = this.engine.config.vocabSize;
    const chunks = jobs.map((job) => job.tokens.slice(job.next, job.next + T));
    const packed = new Float32Array(jobs.length * S);
    jobs.forEach((job, i) => packed.set(job.state, i * S));
    let out;
    const started = performance.now();
    try {
      out = await this.engine.prefillBatch(chunks, packed);
    } catch (err) {
      for (const job of jobs) job.reject(err);
      return;
    }
    const fed = chunks.reduce((n, chunk) => n + chunk.length, 0);
    this.observer?.prefill(jobs.length, fed, (performance.now() - started) / 1000);
    this.prefillChunks += jobs.length;
    jobs.forEach((job, i) => {
      job.state = out.state.subarray(i * S, (i + 1) * S);
      job.logits = out.logits.subarray(i * V, (i + 1) * V);
      job.next += chunks[i].length;
      this.prefillTokens += chunks[i].length;
      if (job.next < job.tokens.length) this.prefills.push(job);
      else job.resolve({ logits: job.logits, state: job.state });
    });
  }
}

/**
 * The [B, S] engine input for these states. In steady state the same agents step again in the same order,
 * so their states are consecutive rows of the previous batch's output: that buffer is passed as it is
 * (copying 16 states of a small model every step cost a fifth of the worker's main thread). Otherwise the
 * rows are copied into a new buffer.
 */
export function packStates(states: readonly Float32Array[], S: number): Float32Array {
  const first = states[0];
  const contiguous = states.every(
    (s, i) => s.buffer === first.buffer && s.byteOffset === first.byteOffset + i * S * 4 && s.length === S,
  );
  if (contiguous) return new Float32Array(first.buffer, first.byteOffset, states.length * S);
  const packed = new Float32Array(states.length * S);
  states.forEach((s, i) => packed.set(s, i * S));
  return packed;
}
