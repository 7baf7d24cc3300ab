import {
  exactLengthTask,
  LONG,
  ofKind,
  sequenceProblems,
  streamedText,
  summarize,
  useCluster,
  waitForProgress,
} from '@gooseherd/test-kit';

// A worker that dies (SIGKILL: no chance to clean up) loses nothing durable: after its lease runs out another
// worker resumes the task from the last checkpoint, and clients see one seamless stream.

const MAX_TOKENS = LONG ? 4_000 : 2_000;
const CHECKPOINT_TOKENS = 32;

describe('a worker killed mid-task', () => {
  const cluster = useCluster({
    workers: 2,
    leaseMs: 2_000,
    checkpointTokens: CHECKPOINT_TOKENS,
    // One segment covers the whole task, so only the crash moves it.
    segmentTokens: 100_000,
  });

  it('is replaced: the task resumes on another worker from its last checkpoint and completes once', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(MAX_TOKENS));
    const socket = await c.openSocket();
    expect(await socket.subscribe({ taskId: task.id })).toMatchObject({ type: 'subscribed' });

    const running = await waitForProgress(c.alice, task.id, 3 * CHECKPOINT_TOKENS);
    const victim = c.workerFor(running.worker);
    const tokensAtKill = (await c.alice.getTask(task.id)).tokensOut;
    victim.kill('SIGKILL');
    await victim.waitForExit(5_000);
    expect(tokensAtKill).toBeLessThan(MAX_TOKENS);

    const final = await c.alice.waitForSuccess(task.id, 180_000);
    await socket.waitForFinalEvent(task.id, 10_000);
    const events = socket.events({ taskId: task.id });

    expect(c.workerFor(final.worker)).not.toBe(victim);
    expect(final.attempts).toBe(2);
    expect(final.tokensOut).toBe(MAX_TOKENS);
    expect(sequenceProblems(events)).toEqual([]);
    expect(ofKind(events, 'completed')).toHaveLength(1);

    const resumed = ofKind(events, 'resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0].data.attempt).toBe(2);
    // Work redone after the crash is bounded by the checkpoint interval.
    expect(resumed[0].data.fromToken).toBeGreaterThan(0);
    expect(resumed[0].data.fromToken).toBeGreaterThanOrEqual(tokensAtKill - CHECKPOINT_TOKENS);
    expect(resumed[0].data.fromToken).toBeLessThanOrEqual(MAX_TOKENS);

    const text = streamedText(events);
    if (text !== final.output) {
      throw new Error(
        `streamed text (${text.length} chars) differs from the output (${final.output.length} chars) ` +
          `at char ${[...text].findIndex((ch, i) => ch !== final.output[i])}; ${summarize(events)}`,
      );
    }
  });

  it('survives one crash after another: every attempt resumes where the last left off', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(MAX_TOKENS));
    const socket = await c.openSocket();
    await socket.subscribe({ taskId: task.id });

    const kills = LONG ? 3 : 2;
    let reached = 0;
    for (let k = 0; k < kills; k++) {
      // Keep two workers alive: the one running the task and a spare.
      await c.startWorker();
      const running = await waitForProgress(c.alice, task.id, reached + 2 * CHECKPOINT_TOKENS, 120_000);
      reached = running.tokensOut;
      const victim = c.workerFor(running.worker);
      victim.kill('SIGKILL');
      await victim.waitForExit(5_000);
    }

    const final = await c.alice.waitForSuccess(task.id, 300_000);
    await socket.waitForFinalEvent(task.id, 10_000);
    const events = socket.events({ taskId: task.id });
    expect(final.attempts).toBe(kills + 1);
    expect(final.tokensOut).toBe(MAX_TOKENS);
    expect(sequenceProblems(events)).toEqual([]);
    const from = ofKind(events, 'resumed').map((e) => e.data.fromToken);
    expect(from).toHaveLength(kills);
    expect(from).toEqual([...from].sort((a, b) => a - b));
    expect(streamedText(events)).toBe(final.output);
  });
});
