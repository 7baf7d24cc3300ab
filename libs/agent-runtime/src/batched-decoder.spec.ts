import { BatchedDecoder, packStates } from './batched-decoder.js';
import type { LoadedModel } from './model-loader.js';
import { testModel } from './testing/test-model.js';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('BatchedDecoder', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await testModel();
  });

  /** Four agents at different states (each fed a different prompt). */
  async function fourStates(): Promise<Float32Array[]> {
    const { engine, tokenizer } = model;
    const prompts = ['User: a', 'User: hello there', 'System: x\n\n', 'é'];
    return Promise.all(
      prompts.map(async (p) => (await engine.prefill(tokenizer.encode(p), engine.zeroState())).state),
    );
  }

  it('gives each of 4 concurrent callers what 4 separate steps give, in one engine call', async () => {
    const { engine } = model;
    const states = await fourStates();
    const tokens = [66, 67, 11, 200];
    const separate = [];
    for (let i = 0; i < 4; i++) separate.push(await engine.step([tokens[i]], states[i]));

    const decoder = new BatchedDecoder(engine);
    const spy = jest.spyOn(engine, 'step');
    try {
      const batched = await Promise.all(states.map((s, i) => decoder.step(s, tokens[i])));
      expect(spy).toHaveBeenCalledTimes(1);
      for (let i = 0; i < 4; i++) {
        expect(maxAbsDiff(batched[i].logits, separate[i].logits)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(batched[i].state, separate[i].state)).toBeLessThanOrEqual(1e-5);
      }
    } finally {
      spy.mockRestore();
    }
    expect(decoder.stats).toMatchObject({ batches: 1, tokensStepped: 4, meanBatchSize: 4 });
  });

  it('batches agents that loop independently, and requests that arrive while the engine runs', async () => {
    const decoder = new BatchedDecoder(model.engine, { maxBatch: 3 });
    const agents = (await fourStates()).map(async (state) => {
      let s = state;
      let token = 66;
      for (let t = 0; t < 5; t++) {
        const out = await decoder.step(s, token);
        s = out.state;
        token = 1 + (t % 200);
      }
    });
    await Promise.all(agents);
    // 20 steps, at most 3 per batch: ideally 7 batches; never one engine call per step.
    expect(decoder.stats.tokensStepped).toBe(20);
    expect(decoder.stats.batches).toBeLessThanOrEqual(8);
    expect(decoder.stats.meanBatchSize).toBeGreaterThan(2.5);
  });

  it('feeds a prompt one chunk at a time, interleaved with other agents’ decode steps', async () => {
    const { engine, tokenizer } = model;
    const decoder = new BatchedDecoder(engine);
    const prompt = tokenizer.encode('x'.repeat(engine.prefillChunk * 3 + 5));
    const reference = await engine.prefill(prompt, engine.zeroState());

    const order: string[] = [];
    const prefill = decoder.prefill(engine.zeroState(), prompt).then((r) => {
      order.push('prefill done');
      return r;
    });
    let s = engine.zeroState();
    for (let t = 0; t < 3; t++) {
      s = (await decoder.step(s, 66)).state;
      order.push(`step ${t}`);
    }
    const out = await prefill;
    expect(order).toEqual(['step 0', 'step 1', 'step 2', 'prefill done']);
    expect(decoder.stats.prefillChunks).toBe(4);
    expect(maxAbsDiff(out.state, reference.state)).toBe(0);
    expect(maxAbsDiff(out.logits!, reference.logits!)).toBe(0);
  });

  it('runs the chunks of concurrent prompts of different lengths as one batched prefill', async () => {
    const { engine, tokenizer } = model;
    const T = engine.prefillChunk;
    const prompts = [5, T + 6, 2 * T + 2].map((n, i) =>
      tokenizer.encode(String.fromCharCode(97 + i).repeat(n)),
    );
    const separate = [];
    for (const p of prompts) separate.push(await engine.prefill(p, engine.zeroState()));

    const decoder = new BatchedDecoder(engine);
    const spy = jest.spyOn(engine, 'prefillBatch');
    try {
      const batched = await Promise.all(prompts.map((p) => decoder.prefill(engine.zeroState(), p)));
      expect(spy).toHaveBeenCalledTimes(3); // the longest prompt has three chunks; the others ride along
      expect(spy.mock.calls.map(([chunks]) => chunks.length)).toEqual([3, 2, 1]);
      for (let i = 0; i < prompts.length; i++) {
        expect(maxAbsDiff(batched[i].state, separate[i].state)).toBeLessThanOrEqual(1e-5);
        expect(maxAbsDiff(batched[i].logits!, separate[i].logits!)).toBeLessThanOrEqual(1e-4);
      }
    } finally {
      spy.mockRestore();
    }
  });

  it('prefills from a state that is a view into a batch output (byteOffset > 0)', async () => {
    const { engine, tokenizer } = model;
    const decoder = new BatchedDecoder(engine);
    const [, second] = await Promise.all([
      decoder.step(engine.zeroState(), 66),
      decoder.step(engine.zeroState(), 67),
    ]);
    expect(second.state.byteOffset).toBeGreaterThan(0);
    const prompt = tokenizer.encode('User: hi');
    const fromView = await decoder.prefill(second.state, prompt);
    const fromCopy = await engine.prefill(prompt, second.state.slice());
    expect(maxAbsDiff(fromView.state, fromCopy.state)).toBe(0);
  });

  it('returns an empty prompt unchanged and rejects a state of the wrong size', async () => {
    const decoder = new BatchedDecoder(model.engine);
    const state = model.engine.zeroState();
    expect((await decoder.prefill(state, [])).state).toBe(state);
    expect(() => decoder.step(new Float32Array(3), 1)).toThrow(RangeError);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    const decoder = new BatchedDecoder(model.engine);
    const s = model.engine.zeroState();
    const results = await Promise.allSettled([decoder.step(s, 1), decoder.step(s, 99_999)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(decoder.step(s, 1)).resolves.toBeDefined();
  });

  it('tells its observer of every engine run: batch sizes, prompt tokens and times', async () => {
    const { engine, tokenizer } = model;
    const steps: number[] = [];
    const prefills: [number, number][] = [];
    let seconds = 0;
    const decoder = new BatchedDecoder(engine, {
      observer: {
        step: (batchSize, s) => {
          steps.push(batchSize);
          seconds += s;
        },
        prefill: (prompts, tokens, s) => {
          prefills.push([prompts, tokens]);
          seconds += s;
        },
      },
    });
    const states = await fourStates();
    await Promise.all(states.map((s) => decoder.step(s, 66)));
    const prompt = tokenizer.encode('x'.repeat(engine.prefillChunk + 3));
    await decoder.prefill(engine.zeroState(), prompt);
    expect(steps).toEqual([4]);
    expect(prefills).toEqual([
      [1, engine.prefillChunk],
      [1, prompt.length - engine.prefillChunk],
    ]);
    expect(seconds).toBeGreaterThan(0);
  });

  it('passes the previous batch output on without copying when the same agents step again in order', () => {
    const S = 4;
    const previous = Float32Array.from({ length: 3 * S }, (_, i) => i);
    const rows = [0, 1, 2].map((i) => previous.subarray(i * S, (i + 1) * S));
    const same = packStates(rows, S);
    expect(same.buffer).toBe(previous.buffer);
    expect(Array.from(same)).toEqual(Array.from(previous));
    const reordered = packStates([rows[1], rows[0]], S);
    expect(reordered.buffer).not.toBe(previous.buffer);
    expect(Array.from(reordered)).toEqual([4, 5, 6, 7, 0, 1, 2, 3]);
  });
});
