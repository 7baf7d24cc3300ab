import type { Cluster } from 'ioredis';
import type { TaskEvent } from '@gooseherd/contracts';
import { IdempotencyConflictError } from './api-store.js';
import { slotTag } from './keys.js';
import { RedisEventFeed } from './redis-event-feed.js';
import { RedisStore } from './redis-store.js';
import { LocalRedisCluster } from './testing/local-redis-cluster.js';
import { WorkerStore } from './worker-store.js';

// Every store script against a real 3-node Redis Cluster: a script whose keys spanned hash slots would fail with
// CROSSSLOT, and a key a script derived itself (not passed in KEYS) would be refused by the node.

const prefix = 'ghc';
const options = { prefix, taskTtlSeconds: 600 };
let cluster: LocalRedisCluster;
let redis: Cluster;
let api: RedisStore;
let worker: WorkerStore;

beforeAll(async () => {
  cluster = await LocalRedisCluster.start(3);
  redis = cluster.client();
  api = new RedisStore(redis, options);
  worker = new WorkerStore(redis, options);
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

const state = (fill: number) => new Uint8Array(64).fill(fill);

describe('the store on a Redis Cluster', () => {
  it('spreads agents over the nodes, each agent with its tasks in one slot', async () => {
    const agents = await Promise.all(
      Array.from({ length: 12 }, () => api.createAgent('alice', { model: 'm' }, 100)),
    );
    const slots = await Promise.all(
      agents.map((a) => redis.cluster('KEYSLOT', api.keys.agent(a.id)) as Promise<number>),
    );
    const owners = new Set(slots.map((slot) => cluster.ports.findIndex((_, i) => nodeServes(i, slot))));
    expect(owners.size).toBeGreaterThan(1);
    const accepted = (await api.submitTask('alice', agents[0].id, { input: 'hi', maxTokens: 4 }))!;
    expect(slotTag(accepted.task.id)).toBe(slotTag(agents[0].id));
    for (const key of [...api.keys.taskKeys(accepted.task.id), api.keys.mailbox(agents[0].id)]) {
      expect(await redis.cluster('KEYSLOT', key)).toBe(slots[0]);
    }
  });

  it('runs a task from submission to completion, with the next one scheduled and found by the reconciler', async () => {
    const agent = await api.createAgent('alice', { model: 'm', system: 'S' }, 100);
    const first = (await api.submitTask('alice', agent.id, { input: 'one', maxTokens: 4 }))!;
    const second = (await api.submitTask('alice', agent.id, { input: 'two', maxTokens: 4 }))!;
    expect(first.segment).toMatchObject({ agentId: agent.id, seq: 1 });
    expect(second.segment).toBeUndefined();
    const found: unknown[] = [];
    for await (const job of worker.scheduledSegments()) if (job.agentId === agent.id) found.push(job);
    expect(found).toEqual([{ agentId: agent.id, tenantId: 'alice', seq: 1, priority: expect.any(Number) }]);

    // The queue's lock lives in another slot on a Cluster: checked just before the script.
    const lockKey = `${prefix}:{bull}:lock:${agent.id}`;
    await redis.set(lockKey, 'mine');
    expect((await worker.beginSegment(first.segment!, 'w:1', { key: lockKey, token: 'theirs' })).kind).toBe(
      'stale',
    );
    const start = await worker.beginSegment(first.segment!, 'w:1', { key: lockKey, token: 'mine' });
    if (start.kind !== 'run') throw new Error(`expected run, got ${start.kind}`);
    expect(start.task.input).toBe('one');
    const lease = start.lease;
    expect(
      await worker.appendTokens(
        lease,
        [
          { id: 72, text: 'H' },
          { id: 105, text: 'i' },
        ],
        2,
      ),
    ).toBe('ok');
    const ckpt = await worker.commitCheckpoint(lease, {
      state: state(1),
      meta: { at: 2 },
      tokensSeen: 9,
      tokensOut: 2,
      tokensIn: 7,
    });
    expect(ckpt).toMatchObject({ result: 'ok', stateVersion: 1 });
    const yielded = await worker.commitCheckpoint(
      lease,
      { state: state(2), meta: { at: 2 }, tokensSeen: 9, tokensOut: 2 },
      true,
    );
    expect(yielded.next?.seq).toBe(2);
    const cont = await worker.beginSegment(yielded.next!, 'w:2');
    if (cont.kind !== 'run') throw new Error(`expected run, got ${cont.kind}`);
    expect(cont.mode).toBe('continue');
    expect(cont.state).toEqual(Buffer.from(state(2)));
    await worker.appendTokens(cont.lease, [{ id: 33, text: '!' }], 3);
    const end = await worker.finishTask(cont.lease, {
      status: 'succeeded',
      finishReason: 'length',
      checkpoint: { state: state(3), meta: {}, tokensSeen: 10, tokensOut: 3 },
      tokensIn: 7,
      tokensOut: 3,
      flushText: '?',
    });
    expect(end).toMatchObject({ result: 'ok', next: { agentId: agent.id, seq: 3 } });
    const task = await api.getTask('alice', first.task.id);
    expect(task).toMatchObject({ status: 'succeeded', output: 'Hi!?', tokensOut: 3 });
    const events = await api.readTaskEvents(first.task.id, 0, 100);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    const text = events.filter((e) => e.kind === 'token').map((e) => (e as TaskEvent<'token'>).data.text);
    expect(text.join('')).toBe(task!.output);
    const agentLog = await api.readAgentEvents(agent.id, 0, 100);
    expect(agentLog.filter((e) => e.taskId === first.task.id)).toEqual(events);

    const next = await worker.beginSegment(end.next!, 'w:1');
    if (next.kind !== 'run') throw new Error(`expected run, got ${next.kind}`);
    expect(next.lease.taskId).toBe(second.task.id);
    const last = await worker.finishTask(next.lease, {
      status: 'succeeded',
      finishReason: 'stop',
      tokensIn: 1,
      tokensOut: 0,
    });
    expect(last.next).toBeUndefined();
  });

  it('cancels queued and running tasks, forks across slots and deletes an agent', async () => {
    const agent = await api.createAgent('bob', { model: 'm' }, 100);
    const running = (await api.submitTask('bob', agent.id, { input: 'a', maxTokens: 4 }))!;
    const queued = (await api.submitTask('bob', agent.id, { input: 'b', maxTokens: 4 }))!;
    const start = await worker.beginSegment(running.segment!, 'w:1');
    if (start.kind !== 'run') throw new Error();
    await worker.commitCheckpoint(start.lease, {
      state: state(7),
      meta: { m: 1 },
      tokensSeen: 3,
      tokensOut: 0,
    });
    expect(await worker.recordSegmentFault(start.lease)).toBe(1);
    expect(await worker.setAgentAttention(start.lease, 'checked')).toBe(true);
    expect((await api.getAgent('bob', agent.id))?.needsAttention).toMatchObject({ reason: 'checked' });
    expect(await worker.setAgentAttention(start.lease, undefined)).toBe(true);
    expect(await worker.segmentSignal(start.lease)).toBe('ok');
    expect(await api.cancelTask('bob', queued.task.id)).toBe('cancelled');
    expect(await api.cancelTask('bob', running.task.id)).toBe('requested');
    expect(await api.cancelTask('alice', running.task.id)).toBeUndefined();
    expect(await worker.segmentSignal(start.lease)).toBe('cancel');

    const fork = (await api.forkAgent('bob', agent.id, 100))!;
    expect(fork).toMatchObject({ stateVersion: 1, tokensSeen: 3, forkedFrom: agent.id });
    expect(await redis.getBuffer(api.keys.agentState(fork.id))).toEqual(Buffer.from(state(7)));

    expect(await api.deleteAgent('bob', agent.id)).toBe(true);
    expect(await api.getAgent('bob', agent.id)).toBeUndefined();
    expect((await api.getTask('bob', running.task.id))?.status).toBe('cancelled');
    expect(await worker.appendTokens(start.lease, [{ id: 1, text: 'x' }], 1)).toBe('fenced');
    const listed = await api.listAgents('bob', 100);
    expect(listed.items.map((a) => a.id)).toEqual([fork.id]);
  });

  it('keeps an Idempotency-Key, the agent limit and the per-agent task cap', async () => {
    const agent = await api.createAgent('carol', { model: 'm' }, 1);
    await expect(api.createAgent('carol', { model: 'm' }, 1)).rejects.toThrow(/maximum of 1 agents/);
    const body = { input: 'same', maxTokens: 4 };
    const a = (await api.submitTask('carol', agent.id, body, { idempotencyKey: 'k-1' }))!;
    const b = (await api.submitTask('carol', agent.id, body, { idempotencyKey: 'k-1' }))!;
    expect(b).toMatchObject({ task: { id: a.task.id }, replayed: true });
    await expect(
      api.submitTask('carol', agent.id, { ...body, input: 'other' }, { idempotencyKey: 'k-1' }),
    ).rejects.toBeInstanceOf(IdempotencyConflictError);
    const capped = new RedisStore(redis, { ...options, maxQueuedTasks: 1 });
    await expect(capped.submitTask('carol', agent.id, body)).rejects.toThrow(/maximum of 1 waiting/);
  });

  it('follows a task live through the event feed', async () => {
    const sub = cluster.client();
    const feed = new RedisEventFeed(sub, redis, { prefix, pollMs: 60_000 });
    try {
      const agent = await api.createAgent('dave', { model: 'm' }, 10);
      const submitted = (await api.submitTask('dave', agent.id, { input: 'x', maxTokens: 8 }))!;
      const start = await worker.beginSegment(submitted.segment!, 'w:1');
      if (start.kind !== 'run') throw new Error();
      const seen: TaskEvent[] = [];
      const stop = feed.followTask(submitted.task.id, 0, (e) => seen.push(e));
      for (let i = 1; i <= 5; i++) await worker.appendTokens(start.lease, [{ id: i, text: String(i) }], i);
      const deadline = Date.now() + 10_000;
      while (seen.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      stop();
      expect(seen.map((e) => e.kind)).toEqual([
        'queued',
        'started',
        'token',
        'token',
        'token',
        'token',
        'token',
      ]);
    } finally {
      await feed.close();
      sub.disconnect();
    }
  });
});

/** Whether node `index` (in start order) serves `slot`, from CLUSTER SLOTS as the client knows them. */
function nodeServes(index: number, slot: number): boolean {
  const port = cluster.ports[index];
  return redis.slots[slot]?.some((key) => key.endsWith(`:${port}`)) ?? false;
}
