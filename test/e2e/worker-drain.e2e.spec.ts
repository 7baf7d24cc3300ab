import {
  exactLengthTask,
  ofKind,
  sequenceProblems,
  streamedText,
  useCluster,
  waitForProgress,
} from '@gooseherd/test-kit';

// A worker asked to stop (SIGTERM: a deploy, a scale-down) checkpoints its agents and leaves within its drain
// time; its tasks continue on other workers without waiting for a lease to run out.

const DRAIN_MS = 3_000;
const MAX_TOKENS = 2_000;

describe('a worker told to stop mid-task', () => {
  const cluster = useCluster({ workers: 2, drainMs: DRAIN_MS, leaseMs: 2_000, segmentTokens: 100_000 });

  it('exits with code 0 within its drain time, and the task completes on another worker', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(MAX_TOKENS));
    const socket = await c.openSocket();
    expect(await socket.subscribe({ taskId: task.id })).toMatchObject({ type: 'subscribed' });

    const running = await waitForProgress(c.alice, task.id, 64);
    const leaving = c.workerFor(running.worker);
    const signalledAt = Date.now();
    leaving.kill('SIGTERM');
    const exit = await leaving.waitForExit(DRAIN_MS + 10_000);
    const tookMs = leaving.exitedAt! - signalledAt;

    expect(exit).toEqual({ code: 0, signal: null });
    // Process teardown after the drain gets a little slack.
    expect(tookMs).toBeLessThanOrEqual(DRAIN_MS + 1_000);

    const final = await c.alice.waitForSuccess(task.id, 120_000);
    await socket.waitForFinalEvent(task.id, 10_000);
    const events = socket.events({ taskId: task.id });
    expect(c.workerFor(final.worker)).not.toBe(leaving);
    expect(final.tokensOut).toBe(MAX_TOKENS);
    expect(sequenceProblems(events)).toEqual([]);
    expect(ofKind(events, 'completed')).toHaveLength(1);
    expect(streamedText(events)).toBe(final.output);
  });
});
