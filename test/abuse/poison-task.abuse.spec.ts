import { decodeState, encodeState, readStateHeader, stateFloatCount } from '@gooseherd/engine';
import type { AgentView, TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  readTaskEventStream,
  useCluster,
  waitForProgress,
  type GooseherdCluster,
} from '@gooseherd/test-kit';
import { Keys } from '@gooseherd/store';

// A poison task (one whose segment fails for a reason that is not the infrastructure) must end as failed,
// naming why, within a bounded number of attempts, and must not take its agent down with it: the agent
// keeps its last good state and its next task runs.

describe('poison tasks', () => {
  const cluster = useCluster({ workers: 1 });

  /** The agent's state blob as stored now, and whether every float in it is finite. */
  async function storedState(
    c: GooseherdCluster,
    agentId: string,
  ): Promise<{ blob: Buffer; finite: boolean }> {
    const key = new Keys(c.settings.prefix).agentState(agentId);
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

  it('a checkpointed NaN state fails its task at once naming it and flags the agent; with the good state back, the next task runs', async () => {
    // The wedge: the 32,000-character input drove the embedded model to NaN (with the engine's
    // prefill chunk of 64, since cut to 32), the NaN state was checkpointed, and every later task of the
    // agent retried forever. Workers no longer commit a non-finite state (numeric-health.ts); an agent that
    // already has one stored must fail its task at once instead of retrying it.
    const c = cluster();
    const agent = await c.alice.createAgent();
    const good = await c.alice.waitForSuccess(
      (await c.alice.submitTask(agent.id, exactLengthTask(8))).id,
      30_000,
    );
    const before: AgentView = await c.alice.getAgent(agent.id);
    const goodState = await storedState(c, agent.id);
    expect(goodState.finite).toBe(true);
    const key = new Keys(c.settings.prefix).agentState(agent.id);
    const header = readStateHeader(goodState.blob);
    const poisoned = new Float32Array(stateFloatCount(header.config)).fill(NaN);
    await c.redis.redis().set(
      key,
      Buffer.from(
        encodeState({
          config: header.config,
          fingerprint: header.fingerprint,
          tokensConsumed: header.tokensConsumed,
          data: poisoned,
        }),
      ),
    );

    const poison = await c.alice.submitTask(agent.id, { input: 'hi', maxTokens: 16 });
    const failed: TaskView = await c.alice.waitForTask(poison.id, {
      timeoutMs: 30_000,
      what: `the task ${poison.id} on the poisoned state to end`,
    });
    expect(failed).toMatchObject({ status: 'failed', tokensOut: 0, attempts: 1 });
    expect(failed.error).toBe(
      "the agent's stored state cannot be used: it holds a non-finite value (state[0] = NaN); the agent needs attention",
    );
    expect(await finalKinds(c, poison.id)).toEqual(['queued', 'started', 'failed']);
    expect((await c.alice.getAgent(agent.id)).needsAttention?.taskId).toBe(poison.id);

    // The good state put back: the agent's next task runs from it.
    await c.redis.redis().set(key, goodState.blob);
    const after = await c.alice.waitForSuccess(
      (await c.alice.submitTask(agent.id, exactLengthTask(8))).id,
      30_000,
    );
    expect(after.tokensOut).toBe(8);
    const agentAfter = await c.alice.getAgent(agent.id);
    expect(agentAfter.tokensSeen).toBe(before.tokensSeen + after.tokensIn + after.tokensOut);
    expect(before.tokensSeen).toBe(good.tokensIn + good.tokensOut);
    expect(agentAfter.needsAttention).toBeUndefined();
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
    await c.redis.redis().hset(new Keys(c.settings.prefix).task(poison.id), 'sampling', '{"temperature":-1}');
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
