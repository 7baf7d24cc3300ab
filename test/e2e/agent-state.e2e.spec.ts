import type { AgentView } from '@gooseherd/contracts';
import { exactLengthTask, useCluster, type GooseherdCluster } from '@gooseherd/test-kit';

// An agent's whole memory is a fixed-size recurrent state: it carries from task to task, its stored size does
// not depend on how much the agent has read, and a fork is a copy of it.

/** Greedy decoding (no randomness) without end-of-text: the same state and input give the same output. */
const GREEDY = { temperature: 0 };

/** Bytes Redis holds for the agent's record and state: its HASH and STRING keys (logs and mailboxes excluded). */
async function stateFootprint(cluster: GooseherdCluster, agentId: string) {
  const keys = await cluster.redis.scanKeys(`${cluster.settings.prefix}:*${agentId}*`);
  const all = await cluster.redis.keyFootprints(keys);
  const state = all.filter((k) => k.type === 'string' || k.type === 'hash');
  return { bytes: state.reduce((sum, k) => sum + k.bytes, 0), keys: all };
}

async function runTask(
  cluster: GooseherdCluster,
  agent: AgentView,
  maxTokens: number,
  input: string,
  greedy = false,
) {
  const task = await cluster.alice.submitTask(
    agent.id,
    exactLengthTask(maxTokens, input, greedy ? GREEDY : {}),
  );
  return cluster.alice.waitForSuccess(task.id, 180_000);
}

describe('agent state', () => {
  const cluster = useCluster({ workers: 1 });

  it('carries from one task to the next: tokensSeen adds up and stateVersion increases', async () => {
    const { alice } = cluster();
    const created = await alice.createAgent({ system: 'You are a goose.' });
    expect(created).toMatchObject({ stateVersion: expect.any(Number), tokensSeen: expect.any(Number) });

    const first = await runTask(cluster(), created, 20, 'Honk once.');
    const afterFirst = await alice.getAgent(created.id);
    const second = await runTask(cluster(), created, 30, 'Honk twice.');
    const afterSecond = await alice.getAgent(created.id);

    expect([first.tokensOut, second.tokensOut]).toEqual([20, 30]);
    // Each task adds its input and its output to what the state has read.
    const growth = [
      afterFirst.tokensSeen - created.tokensSeen,
      afterSecond.tokensSeen - afterFirst.tokensSeen,
    ];
    expect({ tokensSeenGrowth: growth }).toEqual({
      tokensSeenGrowth: [first.tokensIn + first.tokensOut, second.tokensIn + second.tokensOut],
    });
    expect(afterFirst.stateVersion).toBeGreaterThan(created.stateVersion);
    expect(afterSecond.stateVersion).toBeGreaterThan(afterFirst.stateVersion);
  });

  it('takes the same bytes in Redis however many tokens the agent has read', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    await runTask(c, agent, 16, 'Start.');
    const early = await stateFootprint(c, agent.id);
    const seenEarly = (await c.alice.getAgent(agent.id)).tokensSeen;

    for (let i = 0; i < 3; i++) await runTask(c, agent, 400, `Go on, part ${i}.`);
    const late = await stateFootprint(c, agent.id);
    const seenLate = (await c.alice.getAgent(agent.id)).tokensSeen;

    expect(seenLate).toBeGreaterThan(10 * seenEarly);
    expect(early.bytes).toBeGreaterThan(0);
    // A few bytes of slack: the record's counters take more digits as they grow.
    const allowed = early.bytes + 256;
    if (late.bytes > allowed) {
      throw new Error(
        `state keys grew from ${early.bytes} to ${late.bytes} bytes while tokensSeen went ${seenEarly} → ${seenLate}\n` +
          `early: ${JSON.stringify(early.keys)}\nlate: ${JSON.stringify(late.keys)}`,
      );
    }
    // A new agent's state takes as much room as this long-lived one's.
    const fresh = await c.alice.createAgent();
    await runTask(c, fresh, 16, 'Start.');
    const freshStateBlob = (await stateFootprint(c, fresh.id)).keys.find((k) => k.type === 'string');
    const lateStateBlob = late.keys.find((k) => k.type === 'string');
    expect(freshStateBlob?.bytes).toBe(lateStateBlob?.bytes);
  });

  it('forks an agent into a new agent that continues from a copy of its state', async () => {
    const c = cluster();
    const source = await c.alice.createAgent();
    await runTask(c, source, 64, 'Remember the pond.');
    const before = await c.alice.getAgent(source.id);

    const fork = await c.alice.forkAgent(source.id);
    expect(fork.id).not.toBe(source.id);
    expect(fork).toMatchObject({ model: source.model, tokensSeen: before.tokensSeen });
    expect((await c.alice.listAgents()).items.map((a) => a.id)).toContain(fork.id);

    // Same state, same input, greedy decoding: the same continuation. Run one after the other, each alone.
    const fromSource = await runTask(c, source, 48, 'Where is the pond?', true);
    const fromFork = await runTask(c, fork, 48, 'Where is the pond?', true);
    expect(fromFork.output).toBe(fromSource.output);
    expect(fromFork.tokensOut).toBe(48);

    // They are independent afterwards: the fork's tasks leave the source as it was.
    const sourceAfter = await c.alice.getAgent(source.id);
    await runTask(c, fork, 16, 'Only the fork hears this.');
    expect(await c.alice.getAgent(source.id)).toMatchObject({
      tokensSeen: sourceAfter.tokensSeen,
      stateVersion: sourceAfter.stateVersion,
    });
  });
});
