import { createHash, randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { TaskEvent } from '@gooseherd/contracts';
import { newId } from './keys.js';
import { loadScripts } from './lua/scripts.js';
import { RedisStore } from './redis-store.js';
import { ReplyDroppingProxy } from './testing/reply-dropping-proxy.js';
import { WorkerStore, type Lease } from './worker-store.js';

// Every store script is safe to run twice: a proxy drops the reply to one script call and breaks the link, ioredis
// reconnects and resends the call, and the caller still gets the first run's outcome while Redis holds exactly
// what one run writes.

const REDIS_URL = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `ghtest-lost-${randomBytes(4).toString('hex')}`;
const options = { prefix, taskTtlSeconds: 3600 };
let direct: Redis;
let proxied: Redis;
let proxy: ReplyDroppingProxy;
let api: RedisStore;
let worker: WorkerStore;
/** The same stores, through the proxy. */
let apiP: RedisStore;
let workerP: WorkerStore;

/** What identifies each script on the wire: its SHA-1 (EVALSHA) and the start of its source (EVAL). */
const triggers = new Map(
  loadScripts().map((s) => [s.name, [createHash('sha1').update(s.lua).digest('hex'), s.lua.slice(0, 120)]]),
);

/** Loses the reply to the next call of `script` (and checks afterwards that it did). */
async function losingReplyTo<T>(script: string, call: () => Promise<T>): Promise<T> {
  const before = proxy.dropped;
  proxy.dropReplyTo(...triggers.get(script)!);
  const result = await call();
  expect({ script, replyDropped: proxy.dropped - before }).toEqual({ script, replyDropped: 1 });
  return result;
}

beforeAll(async () => {
  direct = new Redis(REDIS_URL.toString());
  proxy = await ReplyDroppingProxy.start({ host: REDIS_URL.hostname, port: Number(REDIS_URL.port || 6379) });
  proxied = new Redis({ host: '127.0.0.1', port: proxy.port, retryStrategy: () => 20 });
  api = new RedisStore(direct, options);
  worker = new WorkerStore(direct, options);
  apiP = new RedisStore(proxied, options);
  workerP = new WorkerStore(proxied, options);
  // Scripts loaded (EVALSHA then hits; a NOSCRIPT fallback would send the source, not the SHA).
  await apiP.createAgent('warm', { model: 'm' }, 10);
});

afterAll(async () => {
  const keys = await direct.keys(`${prefix}:*`);
  if (keys.length) await direct.del(...keys);
  proxied.disconnect();
  await proxy.close();
  await direct.quit();
});

const kinds = async (taskId: string) => (await api.readTaskEvents(taskId, 0, 1000)).map((e) => e.kind);

async function running(tenant = 'alice'): Promise<{ agentId: string; taskId: string; lease: Lease }> {
  const agent = await api.createAgent(tenant, { model: 'm' }, 1000);
  const submitted = (await api.submitTask(tenant, agent.id, { input: 'hi', maxTokens: 8 }))!;
  const start = await worker.beginSegment(submitted.segment!, 'w:1');
  if (start.kind !== 'run') throw new Error(start.kind);
  return { agentId: agent.id, taskId: submitted.task.id, lease: start.lease };
}

describe('a script whose reply was lost runs again with the same outcome and no second effect', () => {
  it('reserveAgent and createAgent', async () => {
    const tenant = `t-${randomBytes(3).toString('hex')}`;
    const a = await losingReplyTo('reserveAgent', () => apiP.createAgent(tenant, { model: 'm' }, 2));
    const b = await losingReplyTo('createAgent', () => apiP.createAgent(tenant, { model: 'm' }, 2));
    expect((await api.listAgents(tenant, 10)).items.map((x) => x.id).sort()).toEqual([a.id, b.id].sort());
  });

  it('listAgent and submitTask', async () => {
    const agent = await api.createAgent('alice', { model: 'm' }, 1000);
    const first = await losingReplyTo('listAgent', () =>
      apiP.submitTask('alice', agent.id, { input: 'a', maxTokens: 4 }),
    );
    expect(first?.segment).toMatchObject({ agentId: agent.id, seq: 1 });
    const other = await api.createAgent('alice', { model: 'm' }, 1000);
    const submitted = await losingReplyTo('submitTask', () =>
      apiP.submitTask('alice', other.id, { input: 'b', maxTokens: 4 }),
    );
    expect(submitted?.segment).toMatchObject({ agentId: other.id, seq: 1 });
    expect(await direct.lrange(api.keys.mailbox(other.id), 0, -1)).toEqual([submitted!.task.id]);
    expect(await kinds(submitted!.task.id)).toEqual(['queued']);
  });

  it('cancelTask', async () => {
    const { agentId } = await running();
    const queued = (await api.submitTask('alice', agentId, { input: 'later', maxTokens: 4 }))!;
    expect(await losingReplyTo('cancelTask', () => apiP.cancelTask('alice', queued.task.id))).toBe(
      'cancelled',
    );
    expect(await kinds(queued.task.id)).toEqual(['queued', 'cancelled']);
  });

  it('beginSegment', async () => {
    const agent = await api.createAgent('alice', { model: 'm' }, 1000);
    const submitted = (await api.submitTask('alice', agent.id, { input: 'hi', maxTokens: 8 }))!;
    const start = await losingReplyTo('beginSegment', () => workerP.beginSegment(submitted.segment!, 'w:1'));
    expect(start.kind === 'run' && [start.mode, start.task.attempts, start.lease.epoch]).toEqual([
      'fresh',
      1,
      '1',
    ]);
    expect(await kinds(submitted.task.id)).toEqual(['queued', 'started']);
  });

  it('appendTokens', async () => {
    const { lease, taskId } = await running();
    const batch = [
      { id: 72, text: 'H' },
      { id: 105, text: 'i' },
    ];
    expect(await losingReplyTo('appendTokens', () => workerP.appendTokens(lease, batch, 2))).toBe('ok');
    expect(await api.getTask('alice', taskId)).toMatchObject({ output: 'Hi', tokensOut: 2 });
    expect(await kinds(taskId)).toEqual(['queued', 'started', 'token', 'token']);
  });

  it('commitCheckpoint, also when it yields the segment', async () => {
    const { lease, taskId, agentId } = await running();
    const write = { state: new Uint8Array(8).fill(1), meta: {}, tokensSeen: 4, tokensOut: 0 };
    const ckpt = await losingReplyTo('commitCheckpoint', () => workerP.commitCheckpoint(lease, write));
    expect(ckpt).toMatchObject({ result: 'ok', stateVersion: 1 });
    const y = await losingReplyTo('commitCheckpoint', () => workerP.commitCheckpoint(lease, write, true));
    expect(y).toMatchObject({ result: 'ok', stateVersion: 2, next: { seq: 2 } });
    expect((await api.getAgent('alice', agentId))?.stateVersion).toBe(2);
    expect(await kinds(taskId)).toEqual(['queued', 'started', 'checkpoint', 'checkpoint']);
  });

  it('finishTask', async () => {
    const { lease, taskId, agentId } = await running();
    const waiting = (await api.submitTask('alice', agentId, { input: 'next', maxTokens: 4 }))!;
    const end = await losingReplyTo('finishTask', () =>
      workerP.finishTask(lease, { status: 'succeeded', finishReason: 'stop', tokensIn: 3, tokensOut: 0 }),
    );
    expect(end).toMatchObject({ result: 'ok', next: { agentId, seq: 2 } });
    expect(await kinds(taskId)).toEqual(['queued', 'started', 'completed']);
    expect(await direct.lrange(api.keys.mailbox(agentId), 0, -1)).toEqual([waiting.task.id]);
  });

  it('deleteAgent and releaseAgent', async () => {
    const { agentId, taskId } = await running('erin');
    expect(await losingReplyTo('deleteAgent', () => apiP.deleteAgent('erin', agentId))).toBe(true);
    expect(await kinds(taskId)).toEqual(['queued', 'started', 'cancelled']);
    const { agentId: second } = await running('erin');
    expect(await losingReplyTo('releaseAgent', () => apiP.deleteAgent('erin', second))).toBe(true);
    expect((await api.listAgents('erin', 10)).items).toEqual([]);
  });

  it('dropListing (the reconciler) and releaseAgent (a reservation whose agent never appeared)', async () => {
    const ghost = newId('agt');
    await direct.zadd(api.keys.activeAgents(), Date.now() - 120_000, `${ghost}/frank`);
    await direct.zadd(api.keys.tenantAgents('frank'), Date.now() - 120_000, ghost);
    await losingReplyTo('dropListing', async () => {
      for await (const job of workerP.scheduledSegments()) void job;
    });
    expect(await direct.zscore(api.keys.activeAgents(), `${ghost}/frank`)).toBeNull();
    expect(await losingReplyTo('releaseAgent', () => apiP.listAgents('frank', 10))).toEqual({ items: [] });
    expect(await direct.zcard(api.keys.tenantAgents('frank'))).toBe(0);
  });

  it('recordSegmentFault', async () => {
    const { lease } = await running();
    expect(await losingReplyTo('recordSegmentFault', () => workerP.recordSegmentFault(lease))).toBe(1);
    expect(await worker.recordSegmentFault(lease)).toBe(2);
  });

  it('setAgentAttention', async () => {
    const { lease, agentId } = await running();
    expect(
      await losingReplyTo('setAgentAttention', () => workerP.setAgentAttention(lease, 'state blob missing')),
    ).toBe(true);
    expect((await api.getAgent('alice', agentId))?.needsAttention).toMatchObject({
      reason: 'state blob missing',
    });
  });

  it('token events read back through the proxy unchanged', async () => {
    const { lease, taskId } = await running();
    await worker.appendTokens(lease, [{ id: 1, text: 'x' }], 1);
    const events = (await apiP.readTaskEvents(taskId, 0, 100)) as TaskEvent[];
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});
