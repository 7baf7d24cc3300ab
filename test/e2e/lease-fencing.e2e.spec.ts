import {
  exactLengthTask,
  ofKind,
  sequenceProblems,
  sleep,
  streamedText,
  summarize,
  useCluster,
  waitForProgress,
} from '@gooseherd/test-kit';

// A worker that stops answering (SIGSTOP: a long GC pause, a frozen VM) loses its lease; another worker takes
// the task over. When the stale worker wakes up it must not write anything: no duplicate events, no second
// completion, no older state over a newer one.

const MAX_TOKENS = 1_500;
const LEASE_MS = 2_000;

describe('a worker paused past its lease', () => {
  const cluster = useCluster({ workers: 2, leaseMs: LEASE_MS, checkpointTokens: 32, segmentTokens: 100_000 });

  it('loses the task to another worker and, once continued, cannot write to it', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(MAX_TOKENS));
    const socket = await c.openSocket();
    expect(await socket.subscribe({ taskId: task.id })).toMatchObject({ type: 'subscribed' });

    const running = await waitForProgress(c.alice, task.id, 64);
    const stale = c.workerFor(running.worker);
    stale.kill('SIGSTOP');
    try {
      const moved = await c.alice.waitForTask(task.id, {
        timeoutMs: 60_000,
        what: `task ${task.id} to move off the paused worker ${running.worker}`,
        done: (t) => t.worker !== running.worker || t.status === 'succeeded' || t.status === 'failed',
      });
      expect(moved.worker).not.toBe(running.worker);
    } finally {
      stale.kill('SIGCONT');
    }

    const final = await c.alice.waitForSuccess(task.id, 120_000);
    await socket.waitForFinalEvent(task.id, 10_000);
    // Give the continued worker time to try its stale writes (its next step, checkpoint, lease renewal).
    await sleep(LEASE_MS + 1_000);

    expect(await c.alice.getTask(task.id)).toEqual(final);
    const events = socket.events({ taskId: task.id });
    expect(sequenceProblems(events)).toEqual([]);
    expect(ofKind(events, 'completed')).toHaveLength(1);
    expect(events[events.length - 1].kind).toBe('completed');
    expect(final.tokensOut).toBe(MAX_TOKENS);
    expect(final.attempts).toBe(2);
    expect(c.workerFor(final.worker)).not.toBe(stale);
    const text = streamedText(events);
    if (text !== final.output) {
      throw new Error(
        `streamed text differs from the output (${text.length} vs ${final.output.length} chars); ${summarize(events)}`,
      );
    }

    const versions = ofKind(events, 'checkpoint').map((e) => e.data.stateVersion);
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]);
    const agentAfter = await c.alice.getAgent(agent.id);
    expect(agentAfter.stateVersion).toBeGreaterThanOrEqual(Math.max(...versions, 0));

    // The agent goes on normally, and its state version only moves forward.
    const next = await c.alice.submitTask(agent.id, exactLengthTask(16));
    await c.alice.waitForSuccess(next.id, 60_000);
    expect((await c.alice.getAgent(agent.id)).stateVersion).toBeGreaterThan(agentAfter.stateVersion);
  });
});
