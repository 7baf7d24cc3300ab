import Redis from 'ioredis';
import type { TaskEvent } from '@gooseherd/contracts';
import { RedisStore } from './redis-store.js';
import { WorkerStore } from './worker-store.js';
import { useSharedRedisStores } from './testing/shared-redis-stores.js';

// A batch of tokens is one stream entry in Redis, but clients see one event per token: resuming after any token,
// also one inside a batch, gives exactly the events after it, and reads limited by a count cut inside a batch.

const stores = useSharedRedisStores('batches');
let redis: Redis;
let api: RedisStore;
let worker: WorkerStore;
beforeAll(() => ({ redis, api, worker } = stores));

const words = ['Ga', 'ggle', ', ', 'goo', 'se', '!', ' \u2028"q"\\', '€'];

async function taskWithBatches() {
  const agent = await api.createAgent('alice', { model: 'm' }, 100);
  const submitted = (await api.submitTask('alice', agent.id, { input: 'hi', maxTokens: 64 }))!;
  const start = await worker.beginSegment(submitted.segment!, 'w:1');
  if (start.kind !== 'run') throw new Error(start.kind);
  // Batches of 3, 1 and 4 tokens, a checkpoint between.
  await worker.appendTokens(
    start.lease,
    words.slice(0, 3).map((text, i) => ({ id: i, text })),
    3,
  );
  await worker.appendTokens(start.lease, [{ id: 3, text: words[3] }], 4);
  await worker.commitCheckpoint(start.lease, {
    state: new Uint8Array(4),
    meta: {},
    tokensSeen: 9,
    tokensOut: 4,
  });
  await worker.appendTokens(
    start.lease,
    words.slice(4).map((text, i) => ({ id: 4 + i, text })),
    8,
  );
  await worker.finishTask(start.lease, {
    status: 'succeeded',
    finishReason: 'length',
    tokensIn: 2,
    tokensOut: 8,
  });
  return { agentId: agent.id, taskId: submitted.task.id };
}

describe('token batches', () => {
  it('are one stream entry each, read back as one event per token with gapless seq and exact text', async () => {
    const { taskId } = await taskWithBatches();
    expect(await redis.xlen(api.keys.taskEvents(taskId))).toBe(7); // queued, started, 3 batches, checkpoint, completed
    const events = await api.readTaskEvents(taskId, 0, 1000);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const tokens = events.filter((e): e is TaskEvent<'token'> => e.kind === 'token');
    expect(tokens.map((e) => e.data)).toEqual(words.map((text, i) => ({ text, tokensOut: i + 1 })));
    expect(tokens.map((e) => e.data.text).join('')).toBe((await api.getTask('alice', taskId))!.output);
    expect(events.map((e) => e.agentSeq)).toEqual(events.map((_, i) => events[0].agentSeq + i));
    // The same time for the tokens of one write, as when each was its own entry.
    expect(new Set(tokens.slice(0, 3).map((e) => e.at)).size).toBe(1);
  });

  it('resume after any position, inside a batch too, in both the task and the agent log', async () => {
    const { taskId, agentId } = await taskWithBatches();
    const all = await api.readTaskEvents(taskId, 0, 1000);
    const agentAll = await api.readAgentEvents(agentId, 0, 1000);
    expect(agentAll).toEqual(all);
    for (let after = 0; after <= all.length; after++) {
      expect(await api.readTaskEvents(taskId, after, 1000)).toEqual(all.slice(after));
      const agentAfter = all[0].agentSeq - 1 + after;
      expect(await api.readAgentEvents(agentId, agentAfter, 1000)).toEqual(all.slice(after));
    }
  });

  it('read in pages of any size, cut inside batches, give every event once', async () => {
    const { taskId } = await taskWithBatches();
    const all = await api.readTaskEvents(taskId, 0, 1000);
    for (const page of [1, 2, 3, 5]) {
      const seen: TaskEvent[] = [];
      let batch: TaskEvent[];
      do {
        batch = await api.readTaskEvents(taskId, seen.at(-1)?.seq ?? 0, page);
        expect(batch.length).toBeLessThanOrEqual(page);
        seen.push(...batch);
      } while (batch.length === page);
      expect(seen).toEqual(all);
    }
  });
});
