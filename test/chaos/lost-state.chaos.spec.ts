import type { AgentView } from '@gooseherd/contracts';
import { useCluster, type GooseherdCluster, readTaskEventStream, exactLengthTask } from '@gooseherd/test-kit';

// An agent's state blob lost from Redis (eviction, an operator's mistake) or damaged must never turn into a
// silent reset of the agent's memory: its tasks fail naming the cause, the agent is flagged as needing
// attention in GET /v1/agents/{id}, and once the blob is back the agent runs again and the flag goes.

describe('a lost or damaged state blob', () => {
  const cluster = useCluster({ workers: 1 });

  const stateKey = (c: GooseherdCluster, agentId: string) => `${c.settings.prefix}:agent:${agentId}:state`;

  /** An agent that has run one task, so its record says it has a state; and that state's blob. */
  async function agentWithState(c: GooseherdCluster): Promise<{ agent: AgentView; blob: Buffer }> {
    const created = await c.alice.createAgent({ system: 'You are a goose.' });
    await c.alice.waitForSuccess((await c.alice.submitTask(created.id, exactLengthTask(16))).id, 30_000);
    const blob = await c.redis.redis().getBuffer(stateKey(c, created.id));
    if (!blob) throw new Error('no state blob after a finished task');
    return { agent: await c.alice.getAgent(created.id), blob };
  }

  it('a missing blob fails the task naming it, flags the agent, and wipes nothing; restoring the blob clears it', async () => {
    const c = cluster();
    const { agent, blob } = await agentWithState(c);
    expect(agent.stateVersion).toBeGreaterThan(0);
    expect(agent.needsAttention).toBeUndefined();
    await c.redis.redis().del(stateKey(c, agent.id));

    const task = await c.alice.submitTask(agent.id, exactLengthTask(8));
    const failed = await c.alice.waitForTask(task.id, { timeoutMs: 30_000, what: `task ${task.id} to end` });
    expect(failed.status).toBe('failed');
    expect(failed.error).toBe(
      `the agent's stored state is missing: its record is at state version ${agent.stateVersion} ` +
        `(${agent.tokensSeen} tokens seen) but the state blob is gone (evicted or deleted); the agent needs attention`,
    );
    const log = await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, { timeoutMs: 5_000 });
    expect(log.messages.map((m) => m.taskEvent.kind)).toEqual(['queued', 'started', 'failed']);

    const flagged = await c.alice.getAgent(agent.id);
    expect(flagged.needsAttention).toEqual({
      reason: expect.stringMatching(/^the agent's stored state is missing/),
      since: expect.any(String),
      taskId: task.id,
    });
    // Nothing was reset: the record still counts what the agent had seen, and no zero state was written.
    expect({ tokensSeen: flagged.tokensSeen, stateVersion: flagged.stateVersion }).toEqual({
      tokensSeen: agent.tokensSeen,
      stateVersion: agent.stateVersion,
    });
    expect(await c.redis.redis().exists(stateKey(c, agent.id))).toBe(0);
    // The listing shows it too.
    const listed = (await c.alice.listAgents()).items.find((a) => a.id === agent.id);
    expect(listed?.needsAttention?.taskId).toBe(task.id);

    // An operator puts the blob back (from a backup): the next task runs and the flag goes.
    await c.redis.redis().set(stateKey(c, agent.id), blob);
    const next = await c.alice.submitTask(agent.id, exactLengthTask(8));
    const done = await c.alice.waitForSuccess(next.id, 30_000);
    const healed = await c.alice.getAgent(agent.id);
    expect(healed.needsAttention).toBeUndefined();
    expect(healed.tokensSeen).toBe(agent.tokensSeen + done.tokensIn + done.tokensOut);
  });

  it('a damaged blob fails the task and flags the agent too', async () => {
    const c = cluster();
    const { agent, blob } = await agentWithState(c);
    const damaged = Buffer.from(blob);
    damaged[damaged.length >> 1] ^= 0xff;
    await c.redis.redis().set(stateKey(c, agent.id), damaged);

    const task = await c.alice.submitTask(agent.id, exactLengthTask(8));
    const failed = await c.alice.waitForTask(task.id, { timeoutMs: 30_000, what: `task ${task.id} to end` });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      /^the agent's stored state cannot be used: .*CRC-32.*; the agent needs attention$/,
    );
    expect((await c.alice.getAgent(agent.id)).needsAttention).toMatchObject({
      reason: expect.stringMatching(/CRC-32/),
      taskId: task.id,
    });
  });
});
