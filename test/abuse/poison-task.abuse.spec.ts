import { decodeState, readStateHeader } from '@gooseherd/engine';
import type { AgentView, TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  readTaskEventStream,
  useCluster,
  waitForProgress,
  type GooseherdCluster,
} from '@gooseherd/test-kit';

// A poison task (one whose segment fails for a reason that is not the infrastructure) must end as failed,
// naming why, within a bounded number of attempts, and must not take its agent down with it: the agent
// keeps its last good state and its next task runs.

/** About a thousand repeated bytes drive the embedded random model's state to NaN (issue 9 §1). */
const NAN_INPUT = 'x'.repeat(4_000);

describe('poison tasks', () => {
  const cluster = useCluster({ workers: 1 });

  /** The agent's state blob as stored now, and whether every float in it is finite. */
  async function storedState(
    c: GooseherdCluster,
    agentId: string,
  ): Promise<{ blob: Buffer; finite: boolean }> {
    const key = `${c.settings.prefix}:agent:${agentId}:state`;
    const blob = await c.redis.redis().getBuffer(key);
    if (!blob) throw new Error(`no state at ${key}`);
    const header = readStateHeader(blob);
    const { data } = decodeState(blob, { config: header.config, fingerprint: header.fingerprint });
    return { blob, finite: data.every((v) => Number.isFinite(v)) };
  }

  async function finalKinds(c: GooseherdCluster, taskId: string): Promise<string[]> {
    const log = await readTaskEventStream(c.baseUrl, c.keys.alice, taskId, { timeoutMs: 5_000 });
    return log.messages.map((m) => m.taskEvent.kind);
  }

  it('a prompt that drives the model to NaN fails its task naming why; the agent keeps its last good state and runs its next task', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const good = await c.alice.waitForSuccess(
      (await c.alice.submitTask(agent.id, exactLengthTask(8))).id,
      30_000,
    );
    const before: AgentView = await c.alice.getAgent(agent.id);
    const goodState = await storedState(c, agent.id);
    expect(goodState.finite).toBe(true);

    const poison = await c.alice.submitTask(agent.id, { input: NAN_INPUT, maxTokens: 16 });
    const next = await c.alice.submitTask(agent.id, exactLengthTask(8));

    const failed: TaskView = await c.alice.waitForTask(poison.id, {
      timeoutMs: 30_000,
      what: `the poisoned task ${poison.id} to end`,
    });
    expect(failed).toMatchObject({ status: 'failed', tokensOut: 0 });
    expect(failed.error).toMatch(/the model's (state|logits) became non-finite/);
    expect(failed.attempts).toBe(1);
    const kinds = await finalKinds(c, poison.id);
    expect(kinds).toEqual(['queued', 'started', 'failed']);

    // The agent's next task runs, from the state the good task left (the poisoned prompt is not in it).
    const after = await c.alice.waitForSuccess(next.id, 30_000);
    expect(after.tokensOut).toBe(8);
    const agentAfter = await c.alice.getAgent(agent.id);
    expect(agentAfter.tokensSeen).toBe(before.tokensSeen + after.tokensIn + after.tokensOut);
    expect(before.tokensSeen).toBe(good.tokensIn + good.tokensOut);
    expect((await storedState(c, agent.id)).finite).toBe(true);
  });

  it('a task whose segment keeps throwing fails after 3 faults without progress; the next task runs', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    // Hold the agent busy so the poisoned task is still queued when its record is damaged.
    const blocker = await c.alice.submitTask(agent.id, exactLengthTask(3_000));
    await waitForProgress(c.alice, blocker.id, 1);
    const poison = await c.alice.submitTask(agent.id, exactLengthTask(8));
    const next = await c.alice.submitTask(agent.id, exactLengthTask(8));
    // A sampling block no API would accept (as if written by an older or buggy version): the sampler throws
    // on every attempt, which is neither a Redis outage nor a drain nor a lost lease.
    await c.redis.redis().hset(`${c.settings.prefix}:task:${poison.id}`, 'sampling', '{"temperature":-1}');
    await c.alice.cancelTask(blocker.id);

    const failed = await c.alice.waitForTask(poison.id, {
      timeoutMs: 30_000,
      what: `the poisoned task ${poison.id} to end`,
    });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/failed 3 times in a row without progress: .*temperature=-1/);
    expect(failed.attempts).toBe(3);
    const kinds = await finalKinds(c, poison.id);
    expect(kinds).toEqual(['queued', 'started', 'resumed', 'resumed', 'failed']);

    expect((await c.alice.waitForSuccess(next.id, 30_000)).tokensOut).toBe(8);
    // BullMQ keeps at most a few stack traces of a failing segment: the job is gone once the task failed.
    const stacks = await c.redis.scanKeys(`${c.settings.prefix}:bull:*`);
    expect(stacks.filter((k) => k.includes(agent.id))).toEqual([]);
    expect(c.workers[0].running).toBe(true);
  });
});
