/**
 * Test and benchmark support: B agents decoding together through one batched engine step, each with its
 * own matcher, the mask applied to its row of real logits before sampling (what the worker's batched
 * decoder will do).
 */
import type { Rwkv7Engine } from '@gooseherd/engine';
import { applyTokenBitmask, type GrammarEngine, type TokenMatcher } from '../constrained-decoding.js';
import type { ConstraintSpec } from '../constraint-spec.js';
import { sampleFromLogits, seededRandom } from './models.js';

export interface BatchRun {
  /** Per job: the tokens it generated in its turn. */
  readonly tokens: number[][];
  /** Per job: whether its turn ended within maxTokens. */
  readonly terminated: boolean[];
  /** Milliseconds of every fillMask call. */
  readonly maskMs: number[];
  /** Engine steps taken. */
  readonly steps: number;
}

export interface BatchOptions {
  readonly engine: Rwkv7Engine;
  readonly grammar: GrammarEngine;
  /** Prompt fed before the turn (the same for every job). */
  readonly prompt: readonly number[];
  /** One per job (one agent's turn each). */
  readonly specs: readonly ConstraintSpec[];
  /** Agents decoding at once; a finished agent's row takes the next job (continuous batching). Default 48. */
  readonly slots?: number;
  /** Tokens each matcher accepts before sampling starts (as if the model had written them; fed to the model). */
  readonly forcedPrefix?: readonly number[];
  readonly seed: number;
  /** Per job. */
  readonly maxTokens: number;
}

export async function generateBatch(opts: BatchOptions): Promise<BatchRun> {
  const { engine, grammar } = opts;
  const jobs = opts.specs.length;
  const B = Math.min(opts.slots ?? 48, jobs);
  const V = engine.config.vocabSize;
  const S = engine.stateSize;
  const prefix = opts.forcedPrefix ?? [];
  const fed = [...opts.prompt, ...prefix];
  const start = await engine.prefill(fed.slice(0, -1), engine.zeroState(1));
  const firstToken = fed[fed.length - 1];
  let state = new Float32Array(B * S);
  const random = seededRandom(opts.seed);
  const tokens: number[][] = Array.from({ length: jobs }, () => []);
  const terminated = new Array<boolean>(jobs).fill(false);
  const maskMs: number[] = [];
  const mask = new Uint32Array(grammar.words);
  const slotJob = new Array<number>(B).fill(-1);
  const matchers: (TokenMatcher | undefined)[] = new Array(B);
  const last = new Array<number>(B).fill(firstToken);
  let nextJob = 0;
  const startJob = async (slot: number): Promise<void> => {
    matchers[slot]?.dispose();
    matchers[slot] = undefined;
    slotJob[slot] = -1;
    if (nextJob >= jobs) return;
    const job = nextJob++;
    slotJob[slot] = job;
    matchers[slot] = await grammar.createMatcher(opts.specs[job], prefix);
    state.set(start.state, slot * S);
    last[slot] = firstToken;
    terminated[job] = matchers[slot].isTerminated();
  };
  let steps = 0;
  try {
    for (let slot = 0; slot < B; slot++) await startJob(slot);
    while (slotJob.some((j) => j >= 0)) {
      const out = await engine.step(last, state);
      state = out.state as Float32Array<ArrayBuffer>;
      steps++;
      for (let slot = 0; slot < B; slot++) {
        const job = slotJob[slot];
        if (job < 0) continue;
        const m = matchers[slot]!;
        const row = out.logits.subarray(slot * V, (slot + 1) * V);
        const t0 = performance.now();
        m.fillMask(mask);
        maskMs.push(performance.now() - t0);
        applyTokenBitmask(row, mask);
        const token = sampleFromLogits(row, random);
        if (!m.accept(token))
          throw new Error(`job ${job}: matcher refused token ${token} its own mask allowed`);
        tokens[job].push(token);
        last[slot] = token;
        terminated[job] = m.isTerminated();
        if (terminated[job] || tokens[job].length >= opts.maxTokens) await startJob(slot);
      }
    }
  } finally {
    for (const m of matchers) m?.dispose();
  }
  return { tokens, terminated, maskMs, steps };
}

const CALL = /<tool_call>([\s\S]*?)<\/tool_call>/g;

/** The calls written in a turn's text, parsed (JSON.parse throws on invalid JSON, which tests want). */
export function parseCalls(text: string): { name: unknown; arguments: unknown }[] {
  return Array.from(text.matchAll(CALL), (m) => JSON.parse(m[1]) as { name: unknown; arguments: unknown });
}

/** Quantile of a sample (nearest rank). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
