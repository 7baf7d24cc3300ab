import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFingerprint, loadCheckpoint } from '../checkpoint/index.js';
import { GoldenFixture, maxAbsDiff, withFixtures } from '../testing/fixtures.js';
import { Rwkv7Engine } from './rwkv7-engine.js';
import { cachedGraph } from './graph-cache.js';

/** The fp32 bound the issue sets; the official implementations agree with each other to ~5e-6. */
const TOL = 1e-4;

function logSumExp(row: Float32Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let sum = 0;
  for (const v of row) sum += Math.exp(v - max);
  return max + Math.log(sum);
}

async function runSteps(engine: Rwkv7Engine, tokens: number[], state: Float32Array) {
  const logits: Float32Array[] = [];
  let s = state;
  for (const t of tokens) {
    const out = await engine.step([t], s);
    logits.push(out.logits);
    s = out.state;
  }
  return { logits, state: s };
}

describe('RWKV-7 engine against the official reference (fp32)', () => {
  withFixtures(() => {
    const golden = new GoldenFixture();
    const V = golden.meta.model.vocab_size;
    const tokens = golden.tokens;
    let cacheDir: string;
    let engine: Rwkv7Engine;
    let stepLogits: Float32Array[];
    let finalState: Float32Array;

    beforeAll(async () => {
      cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-engine-spec-'));
      const ckpt = await loadCheckpoint(golden.pthPath);
      engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
        cacheDir,
        prefillChunk: 20,
        threads: 2,
      });
      const run = await runSteps(engine, tokens, engine.zeroState());
      stepLogits = run.logits;
      finalState = run.state;
    });

    afterAll(async () => {
      await engine?.release();
      fs.rmSync(cacheDir, { recursive: true, force: true });
    });

    it('matches the logits at every position (probe ids, top-64 ids, logsumexp)', () => {
      const probeIds = golden.i32('probe_ids');
      const probe = golden.f32('probe_logits');
      const topIds = golden.i32('top64_ids');
      const top = golden.f32('top64_logits');
      const lse = golden.f32('logsumexp');
      let worst = 0;
      for (let p = 0; p < tokens.length; p++) {
        const row = stepLogits[p];
        for (let j = 0; j < probeIds.length; j++) {
          worst = Math.max(worst, Math.abs(row[probeIds[j]] - probe[p * probeIds.length + j]));
        }
        for (let j = 0; j < 64; j++)
          worst = Math.max(worst, Math.abs(row[topIds[p * 64 + j]] - top[p * 64 + j]));
        worst = Math.max(worst, Math.abs(logSumExp(row) - lse[p]));
      }
      expect(worst).toBeLessThan(TOL);
    });

    it('matches the full logit rows at the first and last four positions', () => {
      const first = golden.f32('logits_first4');
      const last = golden.f32('logits_last4');
      for (let i = 0; i < 4; i++) {
        expect(maxAbsDiff(stepLogits[i], first.subarray(i * V, (i + 1) * V))).toBeLessThan(TOL);
        const p = tokens.length - 4 + i;
        expect(maxAbsDiff(stepLogits[p], last.subarray(i * V, (i + 1) * V))).toBeLessThan(TOL);
      }
    });

    it('matches the parallel ("GPT mode") reference at the last position', () => {
      expect(maxAbsDiff(stepLogits[tokens.length - 1], golden.f32('gpt_mode_logits_last'))).toBeLessThan(TOL);
    });

    it('matches the final state and the state after 24 tokens', async () => {
      expect(maxAbsDiff(finalState, golden.packedState('state'))).toBeLessThan(TOL);
      const mid = await runSteps(engine, tokens.slice(0, 24), engine.zeroState());
      expect(maxAbsDiff(mid.state, golden.packedState('mid_state'))).toBeLessThan(TOL);
    });

    it('resumes from the reference mid state exactly like the uninterrupted run', async () => {
      const resumed = await runSteps(engine, tokens.slice(24), golden.packedState('mid_state'));
      const probeIds = golden.i32('probe_ids');
      const probe = golden.f32('probe_logits');
      for (let i = 0; i < resumed.logits.length; i++) {
        const p = 24 + i;
        expect(maxAbsDiff(resumed.logits[i], stepLogits[p])).toBeLessThan(TOL);
        const atProbe = Array.from(probeIds, (id) => resumed.logits[i][id]);
        expect(
          maxAbsDiff(atProbe, probe.subarray(p * probeIds.length, (p + 1) * probeIds.length)),
        ).toBeLessThan(TOL);
      }
      expect(maxAbsDiff(resumed.state, finalState)).toBeLessThan(TOL);
    });

    it('prefill (chunks of 20 with a padded tail) equals the step graph', async () => {
      const pre = await engine.prefill(tokens, engine.zeroState());
      expect(maxAbsDiff(pre.logits as Float32Array, stepLogits[tokens.length - 1])).toBeLessThan(TOL);
      expect(maxAbsDiff(pre.state, finalState)).toBeLessThan(TOL);
      // a prompt shorter than one chunk, continued by steps, lands on the same state
      const short = await engine.prefill(tokens.slice(0, 7), engine.zeroState());
      const rest = await runSteps(engine, tokens.slice(7), short.state);
      expect(maxAbsDiff(rest.state, finalState)).toBeLessThan(TOL);
    });

    it('prefill in full chunks of 64 over 300 tokens equals 300 single steps', async () => {
      const ckpt = await loadCheckpoint(golden.pthPath);
      const wide = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
        cacheDir,
        prefillChunk: 64,
        threads: 2,
      });
      try {
        const long = Array.from({ length: 300 }, (_, i) => tokens[(i * 7) % tokens.length]);
        const stepped = await runSteps(engine, long, engine.zeroState());
        const pre = await wide.prefill(long, wide.zeroState());
        expect(maxAbsDiff(pre.logits as Float32Array, stepped.logits[long.length - 1])).toBeLessThan(TOL);
        expect(maxAbsDiff(pre.state, stepped.state)).toBeLessThan(TOL);
      } finally {
        await wide.release();
      }
    });

    it('the unrolled recurrence gives the same prefill as the chunked one', async () => {
      const ckpt = await loadCheckpoint(golden.pthPath);
      const unrolled = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
        cacheDir,
        prefillChunk: 16,
        recurrence: 'unrolled',
        threads: 2,
      });
      try {
        const pre = await unrolled.prefill(tokens, unrolled.zeroState());
        expect(maxAbsDiff(pre.logits as Float32Array, stepLogits[tokens.length - 1])).toBeLessThan(TOL);
        expect(maxAbsDiff(pre.state, finalState)).toBeLessThan(TOL);
      } finally {
        await unrolled.release();
      }
    });

    it('evaluate returns every position of the step graph', async () => {
      const all = await engine.evaluate(tokens, engine.zeroState());
      for (let p = 0; p < tokens.length; p++) {
        expect(maxAbsDiff(all.logits.subarray(p * V, (p + 1) * V), stepLogits[p])).toBeLessThan(TOL);
      }
      expect(maxAbsDiff(all.state, finalState)).toBeLessThan(TOL);
    });

    it('a batched step over 4 different sequences equals 4 single runs', async () => {
      const S = engine.stateSize;
      const seqs = [0, 1, 2, 3].map((k) => tokens.slice(k * 5, k * 5 + 6));
      const starts = [engine.zeroState(), golden.packedState('mid_state'), engine.zeroState(), finalState];
      const singles = await Promise.all(seqs.map((seq, k) => runSteps(engine, seq, starts[k])));
      let batchState = new Float32Array(4 * S);
      starts.forEach((s, k) => batchState.set(s, k * S));
      for (let t = 0; t < 6; t++) {
        const out = await engine.step(
          seqs.map((s) => s[t]),
          batchState,
        );
        for (let k = 0; k < 4; k++) {
          expect(maxAbsDiff(out.logits.subarray(k * V, (k + 1) * V), singles[k].logits[t])).toBeLessThan(TOL);
        }
        batchState = new Float32Array(out.state);
      }
      for (let k = 0; k < 4; k++) {
        expect(maxAbsDiff(batchState.subarray(k * S, (k + 1) * S), singles[k].state)).toBeLessThan(TOL);
      }
    });

    it('gives the same results from the .safetensors file', async () => {
      const ckpt = await loadCheckpoint(golden.safetensorsPath);
      const other = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), { cacheDir, threads: 2 });
      try {
        const run = await runSteps(other, tokens.slice(0, 4), other.zeroState());
        const first = golden.f32('logits_first4');
        for (let i = 0; i < 4; i++)
          expect(maxAbsDiff(run.logits[i], first.subarray(i * V, (i + 1) * V))).toBeLessThan(TOL);
      } finally {
        await other.release();
      }
    });

    it('reuses a built graph from the disk cache', async () => {
      const ckpt = await loadCheckpoint(golden.pthPath);
      const spec = { kind: 'step', weights: 'fp32' } as const;
      const first = cachedGraph(ckpt, checkpointFingerprint(ckpt), spec, cacheDir);
      const second = cachedGraph(ckpt, checkpointFingerprint(ckpt), spec, cacheDir);
      expect(second.built).toBe(false);
      expect(second.modelPath).toBe(first.modelPath);
      const otherKey = cachedGraph(
        ckpt,
        checkpointFingerprint(ckpt),
        { kind: 'step', weights: 'int8' },
        cacheDir,
      );
      expect(otherKey.modelPath).not.toBe(first.modelPath);
    });

    it('refuses out-of-range token ids and misshaped states with a clear error', async () => {
      await expect(engine.step([V], engine.zeroState())).rejects.toThrow(/token id 65536/);
      await expect(engine.step([1, 2], engine.zeroState())).rejects.toThrow(/state has/);
    });
  });
});
