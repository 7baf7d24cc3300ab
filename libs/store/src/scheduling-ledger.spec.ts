import Redis from 'ioredis';
import type { AgentSegmentJob } from '@gooseherd/contracts';
import { withScripts } from './lua/scripts.js';
import { RedisStore } from './redis-store.js';
import { LISTING_GRACE_MS, MAX_LISTING_AGE_MS } from './scheduling-ledger.js';
import { WorkerStore } from './worker-store.js';
import { useSharedRedisStores } from './testing/shared-redis-stores.js';

// The scheduling ledger lives in its own slot, beside the agents' scripts: every active agent must stay listed
// (or a lost enqueue would never be repaired), and idle agents' listings must go (or the reconciler's work grows
// with every agent ever used).

const stores = useSharedRedisStores('ledger');
let redis: Redis;
let api: RedisStore;
let worker: WorkerStore;
beforeAll(() => ({ redis, api, worker } = stores));

async function scheduled(agentId: string): Promise<AgentSegmentJob[]> {
  const jobs: AgentSegmentJob[] = [];
  for await (const job of worker.scheduledSegments()) if (job.agentId === agentId) jobs.push(job);
  return jobs;
}

const member = (agentId: string, tenant: string) => `${agentId}/${tenant}`;
const age = (agentId: string, tenant: string, ms: number) =>
  redis.zadd(api.keys.activeAgents(), Date.now() - ms, member(agentId, tenant));

describe('the scheduling ledger', () => {
  it('keeps an active agent listed however old its listing, and drops it only once idle and past the grace', async () => {
    const agent = await api.createAgent('alice', { model: 'm' }, 100);
    const submitted = (await api.submitTask('alice', agent.id, { input: 'x', maxTokens: 1 }))!;
    await age(agent.id, 'alice', 10 * LISTING_GRACE_MS);
    expect(await scheduled(agent.id)).toEqual([submitted.segment]);
    expect(await redis.zscore(api.keys.activeAgents(), member(agent.id, 'alice'))).not.toBeNull();

    const start = await worker.beginSegment(submitted.segment!, 'w:1');
    if (start.kind !== 'run') throw new Error(start.kind);
    await worker.finishTask(start.lease, {
      status: 'succeeded',
      finishReason: 'stop',
      tokensIn: 1,
      tokensOut: 0,
    });
    expect(await redis.sismember(api.keys.tenantBusy('alice'), agent.id)).toBe(0);
    // Idle, listed just now: kept (an activation based on it may still be on its way).
    await age(agent.id, 'alice', 0);
    expect(await scheduled(agent.id)).toEqual([]);
    expect(await redis.zscore(api.keys.activeAgents(), member(agent.id, 'alice'))).not.toBeNull();
    // Idle and past the grace: dropped.
    await age(agent.id, 'alice', LISTING_GRACE_MS + 1_000);
    expect(await scheduled(agent.id)).toEqual([]);
    expect(await redis.zscore(api.keys.activeAgents(), member(agent.id, 'alice'))).toBeNull();
  });

  it('lists an idle agent before activating it, so the reconciler finds a segment whose enqueue was lost', async () => {
    const agent = await api.createAgent('bob', { model: 'm' }, 100);
    const submitted = (await api.submitTask('bob', agent.id, { input: 'x', maxTokens: 1 }))!;
    expect(submitted.segment).toMatchObject({ seq: 1, priority: 1 });
    // The API died before enqueueing: the reconciler's scan yields the same job.
    expect(await scheduled(agent.id)).toEqual([submitted.segment]);
    expect(await redis.smembers(api.keys.tenantBusy('bob'))).toEqual([agent.id]);
  });

  it('refuses to activate an agent on a listing older than the limit (the submission lists it again)', async () => {
    const agent = await api.createAgent('carol', { model: 'm' }, 100);
    const scripted = withScripts(redis);
    const k = api.keys;
    const taskId = `tsk_${agent.id.slice(4, 12)}${'A'.repeat(14)}`;
    const reply = await scripted.ghSubmitTask(
      k.agent(agent.id),
      k.mailbox(agent.id),
      k.task(taskId),
      k.taskEvents(taskId),
      k.agentEvents(agent.id),
      k.idempotency(agent.id, '-'),
      'carol',
      agent.id,
      taskId,
      'x',
      1,
      '',
      '',
      new Date().toISOString(),
      Date.now(),
      k.taskChannel(taskId),
      k.agentChannel(agent.id),
      Date.now() - MAX_LISTING_AGE_MS - 5_000,
      MAX_LISTING_AGE_MS,
      '',
      60,
      10,
    );
    expect(reply).toEqual(['relist']);
    expect(await redis.exists(k.task(taskId))).toBe(0);
    expect(await redis.llen(k.mailbox(agent.id))).toBe(0);
    // Through the store, the same submission lists the agent and goes through.
    expect((await api.submitTask('carol', agent.id, { input: 'x', maxTokens: 1 }))?.segment?.seq).toBe(1);
  });

  it('counts a tenant’s busy agents for the queue priority', async () => {
    const agents = await Promise.all([1, 2, 3].map(() => api.createAgent('dave', { model: 'm' }, 100)));
    const priorities = [];
    for (const a of agents) {
      priorities.push((await api.submitTask('dave', a.id, { input: 'x', maxTokens: 1 }))!.segment!.priority);
    }
    expect(priorities).toEqual([1, 2, 3]);
  });
});
