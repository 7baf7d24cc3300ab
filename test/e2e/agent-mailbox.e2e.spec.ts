import type { TaskView } from '@gooseherd/contracts';
import { exactLengthTask, useCluster } from '@gooseherd/test-kit';

// An agent is one recurrent state: its tasks form a mailbox that runs one task at a time, in submission
// order, whichever worker picks each up. Different agents are independent and run side by side.

/** The most tasks whose [startedAt, finishedAt] intervals overlap at one instant. */
function peakOverlap(tasks: TaskView[]): number {
  const edges = tasks.flatMap((t) => [
    { at: Date.parse(t.startedAt!), delta: 1 },
    { at: Date.parse(t.finishedAt!), delta: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 0;
  for (const edge of edges) {
    now += edge.delta;
    peak = Math.max(peak, now);
  }
  return peak;
}

describe('an agent mailbox, with three workers', () => {
  const cluster = useCluster({ workers: 3, workerConcurrency: 2 });

  it('runs the tasks of one agent strictly in submission order, never two at once', async () => {
    const { alice } = cluster();
    const agent = await alice.createAgent();
    const socket = await cluster().openSocket();
    expect(await socket.subscribe({ agentId: agent.id })).toMatchObject({ type: 'subscribed' });

    const submitted = [];
    for (let i = 0; i < 5; i++)
      submitted.push(await alice.submitTask(agent.id, exactLengthTask(24, `step ${i}`)));
    const done = await Promise.all(submitted.map((t) => alice.waitForSuccess(t.id, 120_000)));
    await socket.waitForFinalEvent(submitted[4].id, 10_000);

    // On the agent's stream, everything but `queued` comes in blocks, one per task, in submission order.
    const running = socket.events({ agentId: agent.id }).filter((e) => e.kind !== 'queued');
    const blocks = running.map((e) => e.taskId).filter((id, i, all) => i === 0 || all[i - 1] !== id);
    expect(blocks).toEqual(submitted.map((t) => t.id));
    const agentSeqs = socket.events({ agentId: agent.id }).map((e) => e.agentSeq);
    expect(agentSeqs).toEqual([...agentSeqs].sort((a, b) => a - b));

    // The records agree: each task starts after the previous one finished.
    for (let i = 1; i < done.length; i++) {
      expect(Date.parse(done[i].startedAt!)).toBeGreaterThanOrEqual(Date.parse(done[i - 1].finishedAt!));
    }
    expect(peakOverlap(done)).toBe(1);
  });

  it("feeds every task's tokens into the agent's state: tokensSeen grows by each task's input and output", async () => {
    const { alice } = cluster();
    const created = await alice.createAgent();
    const submitted = [];
    for (let i = 0; i < 3; i++)
      submitted.push(await alice.submitTask(created.id, exactLengthTask(16, `turn ${i}`)));
    const done = await Promise.all(submitted.map((t) => alice.waitForSuccess(t.id, 120_000)));
    const after = await alice.getAgent(created.id);

    const fed = done.reduce((sum, t) => sum + t.tokensIn + t.tokensOut, 0);
    for (const t of done) {
      expect(t.tokensIn).toBeGreaterThan(0);
      expect(t.tokensOut).toBe(16);
    }
    expect({ tokensSeenGrowth: after.tokensSeen - created.tokensSeen }).toEqual({ tokensSeenGrowth: fed });
    expect(after.stateVersion).toBeGreaterThan(created.stateVersion);
  });

  it('runs the tasks of different agents at the same time, on several workers', async () => {
    const { alice } = cluster();
    const agents = await Promise.all(Array.from({ length: 6 }, () => alice.createAgent()));
    const submitted = await Promise.all(agents.map((a) => alice.submitTask(a.id, exactLengthTask(300))));
    const done = await Promise.all(submitted.map((t) => alice.waitForSuccess(t.id, 180_000)));

    const workers = new Set(done.map((t) => t.worker));
    expect(workers.size).toBeGreaterThanOrEqual(2);
    for (const name of workers) expect(() => cluster().workerFor(name)).not.toThrow();
    expect(peakOverlap(done)).toBeGreaterThanOrEqual(2);
  });
});
