import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import pino from 'pino';
import type { AgentSegmentJob, TaskEvent } from '@gooseherd/contracts';
import { BatchedDecoder, loadModel, type LoadedModel } from '@gooseherd/agent-runtime';
import { encodeState } from '@gooseherd/engine';
import type { SegmentProducer } from '@gooseherd/queue';
import { RedisStore, WorkerStore } from '@gooseherd/store';
import { SegmentRunner, type SegmentRunnerSettings } from './segment-runner.js';
import { TaskRegistry } from './task-registry.js';

// Real Redis, real engine (the embedded model), real store scripts; only the queue is replaced by a list
// of the jobs the runner asked for, which the test then runs itself.
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `ghtest-worker-${randomBytes(4).toString('hex')}`;
const MODEL_NAME = 'rwkv7-embedded-random';
const TASK = {
  input: 'Tell me about geese.',
  maxTokens: 160,
  stop: [],
  sampling: { temperature: 1, seed: 42, logitBias: { '0': -100 } },
};

let redis: Redis;
let model: LoadedModel;
let decoder: BatchedDecoder;
let api: RedisStore;
let store: WorkerStore;
const enqueued: AgentSegmentJob[] = [];
const producer: SegmentProducer = {
  enqueue: async (job) => void enqueued.push(job),
  waitingCount: async () => enqueued.length,
  close: async () => undefined,
};

function runner(settings: Partial<SegmentRunnerSettings> = {}): SegmentRunner {
  return new SegmentRunner(
    model,
    decoder,
    store,
    producer,
    new TaskRegistry(),
    {
      workerName: 'test:1',
      checkpointTokens: 32,
      segmentTokens: 10_000,
      flushMs: 5,
      prefillSlice: 256,
      maxPromptTokens: 65_536,
      ...settings,
    },
    pino({ level: 'silent' }),
  );
}

async function submit(): Promise<{ job: AgentSegmentJob; taskId: string; agentId: string }> {
  const agent = await api.createAgent('t', { model: MODEL_NAME, system: 'You are a goose.' }, 100);
  const r = (await api.submitTask('t', agent.id, TASK))!;
  return { job: r.segment!, taskId: r.task.id, agentId: agent.id };
}

async function untilTask(
  taskId: string,
  done: (tokensOut: number, status: string) => boolean,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const t = (await api.getTask('t', taskId))!;
    if (done(t.tokensOut, t.status)) return;
    if (Date.now() > deadline) throw new Error(`task ${taskId} stuck at ${t.status}, ${t.tokensOut} tokens`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const tokenText = (events: TaskEvent[]) =>
  events
    .filter((e): e is TaskEvent<'token'> => e.kind === 'token')
    .map((e) => e.data.text)
    .join('');

let reference: string;

beforeAll(async () => {
  redis = new Redis(REDIS_URL);
  api = new RedisStore(redis, { prefix, taskTtlSeconds: 600 });
  store = new WorkerStore(redis, { prefix, taskTtlSeconds: 600 });
  model = await loadModel({
    modelName: MODEL_NAME,
    dataDir: path.join(os.tmpdir(), 'gooseherd-test-data'),
    threads: 1,
  });
  decoder = new BatchedDecoder(model.engine);
  const { job, taskId } = await submit();
  await runner().run(job);
  const task = (await api.getTask('t', taskId))!;
  expect(task).toMatchObject({
    status: 'succeeded',
    tokensOut: TASK.maxTokens,
    attempts: 1,
    finishReason: 'length',
  });
  reference = task.output;
}, 120_000);

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
  await model?.engine.release();
});

describe('SegmentRunner', () => {
  it('publishes exactly its output as token events and counts the prompt', async () => {
    const { job, taskId } = await submit();
    await runner().run(job);
    const task = (await api.getTask('t', taskId))!;
    expect(task.output).toBe(reference);
    expect(task.tokensIn).toBeGreaterThan(TASK.input.length);
    expect(tokenText(await api.readTaskEvents(taskId, 0, 10_000))).toBe(task.output);
  });

  it('continues a task across yielded segments to the same output as one uninterrupted run', async () => {
    const { job, taskId } = await submit();
    const segmented = runner({ segmentTokens: 50 });
    await segmented.run(job);
    let segments = 1;
    for (let next = enqueued.pop(); next; next = enqueued.pop(), segments++) await segmented.run(next);
    const task = (await api.getTask('t', taskId))!;
    expect(segments).toBe(Math.ceil(TASK.maxTokens / 50));
    expect(task).toMatchObject({ status: 'succeeded', output: reference, attempts: 1 });
  });

  it('resumes from the last checkpoint when another worker takes the segment over, publishing nothing twice', async () => {
    const { job, taskId, agentId } = await submit();
    const first = runner().run(job);
    await untilTask(taskId, (n) => n >= 70);
    // A second worker is handed the same segment (as BullMQ does when the first one's lock expired).
    const second = runner().run(job);
    await Promise.all([first, second]);
    const task = (await api.getTask('t', taskId))!;
    expect(task).toMatchObject({ status: 'succeeded', output: reference, attempts: 2 });
    const events = await api.readTaskEvents(taskId, 0, 10_000);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const resumed = events.find((e): e is TaskEvent<'resumed'> => e.kind === 'resumed')!;
    expect(resumed.data.fromToken).toBeGreaterThanOrEqual(64);
    expect(tokenText(events)).toBe(reference);
    const agent = (await api.getAgent('t', agentId))!;
    expect(agent.tokensSeen).toBe(task.tokensIn + task.tokensOut);
  });

  it('carries the state into the next task: the same task on a different history gives a different output', async () => {
    const { job, agentId } = await submit();
    await runner().run(job);
    const second = (await api.submitTask('t', agentId, TASK))!;
    await runner().run(enqueued.pop() ?? second.segment!);
    const task = (await api.getTask('t', second.task.id))!;
    expect(task.status).toBe('succeeded');
    expect(task.output).not.toBe(reference);
  });

  it('refuses a state blob written for another model, failing the task with a clear error', async () => {
    const { job, taskId, agentId } = await submit();
    const foreign = encodeState({
      config: model.engine.config,
      fingerprint: 'ab'.repeat(32),
      tokensConsumed: 5,
      data: model.engine.zeroState(1),
    });
    await redis.set(store.keys.agentState(agentId), Buffer.from(foreign));
    await runner().run(job);
    const task = (await api.getTask('t', taskId))!;
    expect(task.status).toBe('failed');
    expect(task.error).toMatch(
      /stored state cannot be used: state was saved for model (ab)+ but the loaded model is/,
    );
  });
});
