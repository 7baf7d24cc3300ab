import Redis from 'ioredis';
import type { TaskEvent } from '@gooseherd/contracts';
import { AgentLimitError } from './api-store.js';
import { RedisEventFeed } from './redis-event-feed.js';
import { RedisStore } from './redis-store.js';
import { WorkerStore } from './worker-store.js';
import { useSharedRedisStores } from './testing/shared-redis-stores.js';

const stores = useSharedRedisStores('store');
const { prefix } = stores;
let redis: Redis;
let api: RedisStore;
let worker: WorkerStore;
beforeAll(() => ({ redis, api, worker } = stores));

async function runningSegment(tenant = 'alice') {
  const agent = await api.createAgent(tenant, { model: 'm' }, 10);
  const submitted = (await api.submitTask(tenant, agent.id, { input: 'hi', maxTokens: 8 }))!;
  const start = await worker.beginSegment(submitted.segment!, 'host:1');
  if (start.kind !== 'run') throw new Error(`expected run, got ${start.kind}`);
  return { agent, taskId: submitted.task.id, start, lease: start.lease };
}

const state = (fill: number) => new Uint8Array(64).fill(fill);
const ckpt = (fill: number, tokensOut: number) => ({
  state: state(fill),
  meta: { fill },
  tokensSeen: 10,
  tokensOut,
});

describe('WorkerStore', () => {
  it('schedules one segment for an idle agent and none while one is scheduled', async () => {
    const agent = await api.createAgent('alice', { model: 'm' }, 10);
    const first = await api.submitTask('alice', agent.id, { input: 'a', maxTokens: 4 });
    const second = await api.submitTask('alice', agent.id, { input: 'b', maxTokens: 4 });
    expect(first?.segment).toEqual({
      agentId: agent.id,
      tenantId: 'alice',
      seq: 1,
      priority: expect.any(Number),
    });
    expect(second?.segment).toBeUndefined();
    const start = await worker.beginSegment(first!.segment!, 'w:1');
    expect(start.kind === 'run' && start.lease.taskId).toBe(first!.task.id);
  });

  it('refuses a duplicate or outdated segment job', async () => {
    const { start } = await runningSegment();
    if (start.kind !== 'run') throw new Error();
    const again = await worker.beginSegment(
      { agentId: start.lease.agentId, tenantId: 'alice', seq: 2, priority: 1 },
      'w',
    );
    expect(again.kind).toBe('stale');
  });

  it('refuses to begin a segment whose queue lock this run no longer holds', async () => {
    const agent = await api.createAgent('alice', { model: 'm' }, 10);
    const job = (await api.submitTask('alice', agent.id, { input: 'hi', maxTokens: 8 }))!.segment!;
    const key = `${prefix}:test-lock:${agent.id}`;
    await redis.set(key, 'token-of-the-new-run');
    expect((await worker.beginSegment(job, 'w:old', { key, token: 'token-of-the-old-run' })).kind).toBe(
      'stale',
    );
    expect((await worker.beginSegment(job, 'w:new', { key, token: 'token-of-the-new-run' })).kind).toBe(
      'run',
    );
  });

  it('fences out a worker whose segment was taken over', async () => {
    const { lease, start } = await runningSegment();
    expect(await worker.appendTokens(lease, [{ id: 65, text: 'A' }], 1)).toBe('ok');
    expect((await worker.commitCheckpoint(lease, ckpt(1, 1))).result).toBe('ok');
    // Another worker takes the same segment (BullMQ handed the stalled job over).
    const job = { agentId: lease.agentId, tenantId: 'alice', seq: 1, priority: 1 };
    const takeover = await worker.beginSegment(job, 'w:2');
    expect(takeover.kind).toBe('run');
    if (takeover.kind !== 'run' || start.kind !== 'run') throw new Error();
    expect(takeover.mode).toBe('resume');
    expect(takeover.task.attempts).toBe(2);
    expect(takeover.outputIds).toEqual([65]);
    expect(takeover.output).toBe('A');
    // The old holder's writes are refused and change nothing.
    expect(await worker.appendTokens(lease, [{ id: 66, text: 'B' }], 2)).toBe('fenced');
    expect((await worker.commitCheckpoint(lease, ckpt(9, 2))).result).toBe('fenced');
    const finish = await worker.finishTask(lease, {
      status: 'succeeded',
      finishReason: 'stop',
      tokensIn: 1,
      tokensOut: 2,
    });
    expect(finish.result).toBe('fenced');
    expect(await redis.getBuffer(worker.keys.agentState(lease.agentId))).toEqual(Buffer.from(state(1)));
    const task = await api.getTask('alice', lease.taskId);
    expect(task).toMatchObject({ status: 'running', output: 'A', tokensOut: 1, attempts: 2 });
    const events = await api.readTaskEvents(lease.taskId, 0, 100);
    expect(events.map((e) => e.kind)).toEqual(['queued', 'started', 'token', 'checkpoint', 'resumed']);
    expect(events[4].data).toMatchObject({ fromToken: 1, worker: 'w:2', attempt: 2 });
  });

  it('applies a resent token batch once (a reply lost when the connection broke)', async () => {
    const { lease } = await runningSegment();
    const batch = [
      { id: 72, text: 'H' },
      { id: 105, text: 'i' },
    ];
    expect(await worker.appendTokens(lease, batch, 2)).toBe('ok');
    expect(await worker.appendTokens(lease, batch, 2)).toBe('ok');
    const task = await api.getTask('alice', lease.taskId);
    expect(task).toMatchObject({ output: 'Hi', tokensOut: 2 });
    const tokens = (await api.readTaskEvents(lease.taskId, 0, 100)).filter((e) => e.kind === 'token');
    expect(tokens).toHaveLength(2);
  });

  it('finishes a task atomically and schedules the next one of the agent', async () => {
    const { agent, lease } = await runningSegment();
    const next = await api.submitTask('alice', agent.id, { input: 'again', maxTokens: 4 });
    expect(next?.segment).toBeUndefined();
    await worker.appendTokens(
      lease,
      [
        { id: 72, text: 'H' },
        { id: 105, text: 'i' },
      ],
      2,
    );
    const end = await worker.finishTask(lease, {
      status: 'succeeded',
      finishReason: 'length',
      checkpoint: ckpt(3, 2),
      tokensIn: 5,
      tokensOut: 2,
      flushText: '!',
    });
    expect(end.result).toBe('ok');
    expect(end.next).toMatchObject({ agentId: agent.id, seq: 2 });
    const task = await api.getTask('alice', lease.taskId);
    expect(task).toMatchObject({
      status: 'succeeded',
      output: 'Hi!',
      tokensIn: 5,
      tokensOut: 2,
      finishReason: 'length',
    });
    const events = await api.readTaskEvents(lease.taskId, 0, 100);
    const text = events.filter((e) => e.kind === 'token').map((e) => (e as TaskEvent<'token'>).data.text);
    expect(text.join('')).toBe(task!.output);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect((await api.getAgent('alice', agent.id))?.stateVersion).toBe(1);
    const second = await worker.beginSegment(end.next!, 'w:1');
    expect(second.kind === 'run' && second.lease.taskId).toBe(next!.task.id);
    if (second.kind !== 'run') throw new Error();
    expect(second.state).toEqual(Buffer.from(state(3)));
    expect(second.checkpoint).toEqual({ fill: 3 });
    const idle = await worker.finishTask(second.lease, {
      status: 'succeeded',
      finishReason: 'stop',
      tokensIn: 1,
      tokensOut: 0,
    });
    expect(idle.next).toBeUndefined();
  });

  it('yields a segment and continues it without counting an attempt', async () => {
    const { lease } = await runningSegment();
    const y = await worker.commitCheckpoint(lease, ckpt(4, 0), true);
    expect(y.next?.seq).toBe(2);
    const cont = await worker.beginSegment(y.next!, 'w:3');
    expect(cont.kind === 'run' && [cont.mode, cont.task.attempts]).toEqual(['continue', 1]);
  });

  it('cancels a queued task at once and flags a running one', async () => {
    const { agent, lease } = await runningSegment();
    const queued = await api.submitTask('alice', agent.id, { input: 'later', maxTokens: 4 });
    expect(await api.cancelTask('alice', queued!.task.id)).toBe('cancelled');
    expect(await api.cancelTask('alice', lease.taskId)).toBe('requested');
    expect(await api.cancelTask('bob', lease.taskId)).toBeUndefined();
    expect(await worker.appendTokens(lease, [{ id: 1, text: 'x' }], 1)).toBe('cancel');
    const end = await worker.finishTask(lease, {
      status: 'cancelled',
      finishReason: 'cancelled',
      tokensIn: 1,
      tokensOut: 1,
    });
    expect(end.next).toBeUndefined(); // the cancelled queued task left the mailbox
    expect(await api.cancelTask('alice', lease.taskId)).toBe('final');
  });

  it('keeps tenants apart and enforces the agent limit', async () => {
    const { agent, taskId } = await runningSegment('carol');
    expect(await api.getAgent('dave', agent.id)).toBeUndefined();
    expect(await api.getTask('dave', taskId)).toBeUndefined();
    expect(await api.submitTask('dave', agent.id, { input: 'x', maxTokens: 1 })).toBeUndefined();
    expect(await api.deleteAgent('dave', agent.id)).toBe(false);
    await api.createAgent('erin', { model: 'm' }, 1);
    await expect(api.createAgent('erin', { model: 'm' }, 1)).rejects.toBeInstanceOf(AgentLimitError);
  });

  it('forks the committed state by copy and deletes an agent with its running task', async () => {
    const { agent, lease } = await runningSegment();
    await worker.commitCheckpoint(lease, ckpt(7, 0));
    const fork = await api.forkAgent('alice', agent.id, 100);
    expect(fork).toMatchObject({ stateVersion: 1, forkedFrom: agent.id });
    expect(await redis.getBuffer(worker.keys.agentState(fork!.id))).toEqual(Buffer.from(state(7)));
    expect(await api.deleteAgent('alice', agent.id)).toBe(true);
    expect(await worker.appendTokens(lease, [{ id: 1, text: 'x' }], 1)).toBe('fenced');
    expect((await api.getTask('alice', lease.taskId))?.status).toBe('cancelled');
    expect(await api.getAgent('alice', fork!.id)).toBeDefined();
  });
});

describe('RedisEventFeed', () => {
  it('replays after a cursor, then streams live, without gaps or duplicates', async () => {
    const sub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const feed = new RedisEventFeed(sub, redis, { prefix, pollMs: 60_000 });
    try {
      const { lease } = await runningSegment();
      await worker.appendTokens(
        lease,
        [
          { id: 1, text: 'a' },
          { id: 2, text: 'b' },
        ],
        2,
      );
      const seen: TaskEvent[] = [];
      const stop = feed.followTask(lease.taskId, 3, (e) => seen.push(e));
      for (let i = 3; i <= 40; i++) await worker.appendTokens(lease, [{ id: i, text: String(i % 10) }], i);
      const deadline = Date.now() + 5000;
      while (seen.length < 39 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      stop();
      expect(seen.map((e) => e.seq)).toEqual(Array.from({ length: 39 }, (_, i) => i + 4));
    } finally {
      await feed.close();
      sub.disconnect();
    }
  });

  describe('what the worker reads and marks between writes', () => {
    it('tells a segment whether to go on: ok, cancel (task cancelled or agent deleted), fenced (lease lost)', async () => {
      const a = await runningSegment('signals');
      expect(await worker.segmentSignal(a.lease)).toBe('ok');
      expect(await api.cancelTask('signals', a.taskId)).toBe('requested');
      expect(await worker.segmentSignal(a.lease)).toBe('cancel');

      const b = await runningSegment('signals');
      expect(await api.deleteAgent('signals', b.agent.id)).toBe(true);
      expect(await worker.segmentSignal(b.lease)).toBe('cancel');

      const c = await runningSegment('signals');
      await redis.hincrby(worker.keys.agent(c.agent.id), 'epoch', 1); // another worker took the agent
      expect(await worker.segmentSignal(c.lease)).toBe('fenced');
    });

    it('counts faults in a row at the same position, from 1 again after progress, and never for a fenced lease', async () => {
      const { lease } = await runningSegment('faults');
      expect(await worker.recordSegmentFault(lease)).toBe(1);
      expect(await worker.recordSegmentFault(lease)).toBe(2);
      expect(await worker.appendTokens(lease, [{ id: 5, text: 'x' }], 1)).toBe('ok');
      expect(await worker.recordSegmentFault(lease)).toBe(1);
      expect(await worker.recordSegmentFault(lease)).toBe(2);
      await redis.hincrby(worker.keys.agent(lease.agentId), 'epoch', 1);
      expect(await worker.recordSegmentFault(lease)).toBe('fenced');
    });

    it('marks an agent as needing attention and clears the mark, fenced by the lease', async () => {
      const { agent, lease } = await runningSegment('attention');
      expect(await worker.setAgentAttention(lease, 'the state blob is gone')).toBe(true);
      expect((await api.getAgent('attention', agent.id))?.needsAttention).toEqual({
        reason: 'the state blob is gone',
        since: expect.any(String),
        taskId: lease.taskId,
      });
      const next = await worker.beginSegment(
        { agentId: agent.id, tenantId: 'attention', seq: 1, priority: 1 },
        'w:2',
      );
      expect(next.kind === 'run' && next.agent.needsAttention).toBe(true);
      expect(await worker.setAgentAttention(lease, undefined)).toBe(false); // the old lease is fenced
      if (next.kind !== 'run') throw new Error('expected run');
      expect(await worker.setAgentAttention(next.lease, undefined)).toBe(true);
      expect((await api.getAgent('attention', agent.id))?.needsAttention).toBeUndefined();
    });
  });
});
