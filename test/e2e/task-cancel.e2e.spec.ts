import {
  exactLengthTask,
  ofKind,
  readTaskEventStream,
  sequenceProblems,
  sleep,
  streamedText,
  useCluster,
  waitFor,
  waitForProgress,
} from '@gooseherd/test-kit';

// Cancelling stops the work promptly, keeps what was generated, and leaves the agent ready for more.

const LONG_TASK = 3_000;

describe('cancelling a task', () => {
  const cluster = useCluster({ workers: 1 });

  it('stops a running task: status cancelled, no token events a second after, tokensOut frozen', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(LONG_TASK));
    const socket = await c.openSocket();
    expect(await socket.subscribe({ taskId: task.id })).toMatchObject({ type: 'subscribed' });
    await waitForProgress(c.alice, task.id, 32);

    const cancelRequestedAt = Date.now();
    await c.alice.cancelTask(task.id);
    const cancelled = await c.alice.waitForTask(task.id, {
      timeoutMs: 5_000,
      what: `task ${task.id} to end after cancel`,
    });
    expect(cancelled.status).toBe('cancelled');
    const finalEvent = await socket.waitForFinalEvent(task.id, 5_000);
    expect(finalEvent.kind).toBe('cancelled');

    await sleep(1_500);
    const later = await c.alice.getTask(task.id);
    expect(later.tokensOut).toBe(cancelled.tokensOut);
    expect(later.tokensOut).toBeLessThan(LONG_TASK);

    // Judged by when the server wrote each event, so a slow client cannot blur it.
    const events = socket.events({ taskId: task.id });
    const lateTokens = events.filter(
      (e) => e.kind === 'token' && Date.parse(e.at) > cancelRequestedAt + 1_000,
    );
    expect(lateTokens.map((e) => `seq ${e.seq} at ${e.at}`)).toEqual([]);
    expect(events[events.length - 1].kind).toBe('cancelled');
    expect(sequenceProblems(events)).toEqual([]);
    expect(ofKind(events, 'cancelled')[0].data.tokensOut).toBe(later.tokensOut);
    expect(streamedText(events)).toBe(later.output);
  });

  it('ends a queued task at once; it never starts', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const blocker = await c.alice.submitTask(agent.id, exactLengthTask(LONG_TASK));
    const queued = await c.alice.submitTask(agent.id, exactLengthTask(16));
    await waitForProgress(c.alice, blocker.id, 1);

    await c.alice.cancelTask(queued.id);
    const view = await waitFor(
      async (seen) => {
        const t = await c.alice.getTask(queued.id);
        seen(t.status);
        return t.status !== 'queued' && t;
      },
      { timeoutMs: 1_000, what: 'the queued task to leave status queued' },
    );
    expect(view).toMatchObject({ status: 'cancelled', tokensOut: 0, output: '' });

    await c.alice.cancelTask(blocker.id);
    await c.alice.waitForTask(blocker.id, { timeoutMs: 5_000 });
    const log = await readTaskEventStream(c.baseUrl, c.keys.alice, queued.id, { timeoutMs: 5_000 });
    expect(log.messages.map((m) => m.taskEvent.kind)).toEqual(['queued', 'cancelled']);
  });

  it('leaves the agent ready for its next task', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const first = await c.alice.submitTask(agent.id, exactLengthTask(LONG_TASK));
    await waitForProgress(c.alice, first.id, 16);
    await c.alice.cancelTask(first.id);
    await c.alice.waitForTask(first.id, { timeoutMs: 5_000 });

    const next = await c.alice.submitTask(agent.id, exactLengthTask(24));
    const done = await c.alice.waitForSuccess(next.id, 60_000);
    expect(done.tokensOut).toBe(24);
  });
});
