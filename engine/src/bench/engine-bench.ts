import * as os from 'node:os';
import { checkpointFingerprint, MODEL_SHAPES, randomCheckpoint } from '../checkpoint/index.js';
import { WeightDType } from '../graph/linear-weights.js';
import { Rwkv7Engine } from '../runtime/rwkv7-engine.js';
import { weightBytesPerToken } from './weight-traffic.js';

export type BenchShape = keyof typeof MODEL_SHAPES;

export interface EngineBenchOptions {
  readonly shape: BenchShape;
  readonly dtype: WeightDType;
  readonly batch: number;
  readonly threads?: number;
  /** Timed decode steps per round. */
  readonly decodeSteps?: number;
  /** Rounds; the median round is reported. */
  readonly repeats?: number;
  /** Prompt length for the prefill figure. */
  readonly prefillTokens?: number;
  readonly cacheDir?: string;
  readonly seed?: number;
  /** Called with progress lines (stderr in the CLI). */
  readonly log?: (line: string) => void;
}

export interface EngineBenchResult {
  readonly shape: BenchShape;
  readonly dtype: WeightDType;
  readonly batch: number;
  readonly threads: number;
  readonly parameters: number;
  /** Aggregate over the batch: batch / (median seconds per step). */
  readonly decodeTokensPerSecond: number;
  readonly decodeMsPerStep: number;
  readonly prefillTokensPerSecond: number;
  readonly prefillTokens: number;
  readonly prefillChunk: number;
  readonly stateBytes: number;
  readonly weightBytesPerToken: number;
  /** Resident memory after warm-up, with the checkpoint's tensors dropped. */
  readonly steadyRssBytes: number;
  /** Peak resident memory of the whole process (includes generating and converting the weights). */
  readonly peakRssBytes: number;
  readonly setupMs: number;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** Random-weight model at a real shape → decode and prefill throughput for one configuration. */
export async function benchmarkEngine(opts: EngineBenchOptions): Promise<EngineBenchResult> {
  const log = opts.log ?? (() => undefined);
  const threads = opts.threads ?? Math.max(1, os.availableParallelism());
  const steps = opts.decodeSteps ?? 16;
  const repeats = opts.repeats ?? 5;
  const prefillTokens = opts.prefillTokens ?? 512;
  const setupStart = process.hrtime.bigint();
  log(`generating a random ${opts.shape} model (seed ${opts.seed ?? 1})`);
  const ckpt = randomCheckpoint(MODEL_SHAPES[opts.shape], opts.seed ?? 1, 'bf16');
  const parameters = [...ckpt.tensors.values()].reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
    weights: opts.dtype,
    threads,
    cacheDir: opts.cacheDir,
  });
  try {
    log(`building/opening graphs (${opts.dtype}, ${threads} threads)`);
    await engine.warmUp(['step', 'prefill']);
    engine.dropCheckpoint();
    const setupMs = seconds(setupStart) * 1000;
    if (global.gc) global.gc();

    const B = opts.batch;
    const tokens = Array.from({ length: B }, (_, i) => 1 + ((i * 7919) % 65000));
    let state = engine.zeroState(B);
    for (let i = 0; i < 3; i++) state = (await engine.step(tokens, state)).state;
    const perStep: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = process.hrtime.bigint();
      for (let i = 0; i < steps; i++) state = (await engine.step(tokens, state)).state;
      perStep.push(seconds(t) / steps);
    }
    const decodeSec = median(perStep);
    log(`decode: ${(decodeSec * 1000).toFixed(2)} ms/step at batch ${B}`);

    const prompt = Array.from({ length: prefillTokens }, (_, i) => 1 + ((i * 104729) % 65000));
    await engine.prefill(prompt.slice(0, engine.prefillChunk), engine.zeroState());
    const prefillRuns: number[] = [];
    for (let r = 0; r < Math.max(3, Math.ceil(repeats / 2)); r++) {
      const t = process.hrtime.bigint();
      await engine.prefill(prompt, engine.zeroState());
      prefillRuns.push(seconds(t));
    }
    const prefillSec = median(prefillRuns);
    log(`prefill: ${(prefillTokens / prefillSec).toFixed(0)} tokens/s`);

    return {
      shape: opts.shape,
      dtype: opts.dtype,
      batch: B,
      threads,
      parameters,
      decodeTokensPerSecond: B / decodeSec,
      decodeMsPerStep: decodeSec * 1000,
      prefillTokensPerSecond: prefillTokens / prefillSec,
      prefillTokens,
      prefillChunk: engine.prefillChunk,
      stateBytes: engine.stateSize * 4,
      weightBytesPerToken: weightBytesPerToken(engine.config, opts.dtype),
      steadyRssBytes: process.memoryUsage().rss,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      setupMs,
    };
  } finally {
    await engine.release();
  }
}

export interface ContextPoint {
  readonly context: number;
  readonly msPerToken: number;
}

/**
 * Decode time per token after growing amounts of context, fed through prefill: an RNN's cost must not
 * depend on how much it has read.
 */
export async function benchmarkContextSweep(opts: {
  shape: BenchShape;
  dtype: WeightDType;
  contexts: number[];
  threads?: number;
  steps?: number;
  repeats?: number;
  cacheDir?: string;
  log?: (line: string) => void;
}): Promise<ContextPoint[]> {
  const log = opts.log ?? (() => undefined);
  const ckpt = randomCheckpoint(MODEL_SHAPES[opts.shape], 1, 'bf16');
  const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
    weights: opts.dtype,
    threads: opts.threads,
    cacheDir: opts.cacheDir,
  });
  try {
    await engine.warmUp(['step', 'prefill']);
    engine.dropCheckpoint();
    // Reach each context length through prefill and keep the state; then time decode from every kept
    // state in interleaved rounds, so all lengths see the same machine conditions (the figure is a ratio).
    const states: Float32Array[] = [];
    let state = engine.zeroState();
    let consumed = 0;
    const block = 4096;
    const targets = [...opts.contexts].sort((a, b) => a - b);
    for (const target of targets) {
      while (consumed < target) {
        const n = Math.min(block, target - consumed);
        const chunk = Array.from({ length: n }, (_, i) => 1 + (((consumed + i) * 104729) % 65000));
        state = (await engine.prefill(chunk, state)).state;
        consumed += n;
      }
      states.push(new Float32Array(state));
      log(`reached context ${target}`);
    }
    const steps = opts.steps ?? 16;
    const timings: number[][] = targets.map(() => []);
    for (let r = 0; r < (opts.repeats ?? 7); r++) {
      for (let k = 0; k < targets.length; k++) {
        let probe: Float32Array = new Float32Array(states[k]); // decode from a copy: the context stays put
        probe = (await engine.step([42], probe)).state; // warm
        const t = process.hrtime.bigint();
        for (let i = 0; i < steps; i++) probe = (await engine.step([42], probe)).state;
        timings[k].push((seconds(t) * 1000) / steps);
      }
    }
    const points: ContextPoint[] = targets.map((context, k) => ({ context, msPerToken: median(timings[k]) }));
    for (const p of points) log(`context ${p.context}: ${p.msPerToken.toFixed(2)} ms/token`);
    return points;
  } finally {
    await engine.release();
  }
}
