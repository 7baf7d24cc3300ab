import { exactLengthTask, LONG, msBetween, ofKind, useCluster, waitFor } from '@gooseherd/test-kit';

// Work is shared per tenant, not per request: a tenant with a deep backlog does not make another tenant's
// single task wait for that backlog. Agents yield their worker slot every segment, so a newcomer waits about
// one segment.

const SEGMENT_TOKENS = 16;
const ALICE_AGENTS = LONG ? 120 : 60;
const ALICE_TOKENS = LONG ? 800 : 400;

describe('fairness between tenants', () => {
  const cluster = useCluster({
    workers: 2,
    workerConcurrency: 4,
    segmentTokens: SEGMENT_TOKENS,
    checkpointTokens: SEGMENT_TOKENS,
  });

  it("starts bob's one task within about a segment, long before alice's backlog drains", async () => {
    const c = cluster();
    const agents = await Promise.all(Array.from({ length: ALICE_AGENTS }, () => c.alice.createAgent()));
    const socket = await c.openSocket('alice');
    await socket.subscribe({ agentId: agents[0].id });
    const backlog = await Promise.all(
      agents.map((a) => c.alice.submitTask(a.id, exactLengthTask(ALICE_TOKENS))),
    );

    // Alice's first agent has gone through a few segments: every slot is busy with her work.
    const warm = await socket.waitForFrame(
      (f) =>
        f.type === 'event' &&
        f.kind === 'token' &&
        (f.data as { tokensOut: number }).tokensOut >= 3 * SEGMENT_TOKENS,
      { timeoutMs: 120_000, what: `alice's first task to pass ${3 * SEGMENT_TOKENS} tokens` },
    );
    expect(warm).toMatchObject({ taskId: backlog[0].id });

    const bobAgent = await c.bob.createAgent();
    const submittedAt = new Date().toISOString();
    const bobTask = await c.bob.submitTask(bobAgent.id, exactLengthTask(8));
    const bobDone = await c.bob.waitForSuccess(bobTask.id, 120_000);
    const bobWaitMs = msBetween(submittedAt, bobDone.startedAt);

    // How long one segment of one agent takes here, measured on alice's first task: from its start to its
    // first SEGMENT_TOKENS tokens (it started at once, on an idle cluster, so this is pure generation).
    const first = socket.events({ taskId: backlog[0].id });
    const started = ofKind(first, 'started')[0];
    const segmentEnd = ofKind(first, 'token').find((e) => e.data.tokensOut >= SEGMENT_TOKENS);
    const segmentMs = msBetween(started.at, segmentEnd?.at);

    const aliceViews = await Promise.all(backlog.map((t) => c.alice.getTask(t.id)));
    const finishedBeforeBob = aliceViews.filter(
      (t) => t.finishedAt !== undefined && Date.parse(t.finishedAt) <= Date.parse(bobDone.startedAt!),
    ).length;
    const report = `bob waited ${bobWaitMs} ms; one segment takes ~${segmentMs} ms; ${finishedBeforeBob}/${ALICE_AGENTS} of alice's tasks had finished`;

    expect({ report, aliceMostlyWaiting: finishedBeforeBob < ALICE_AGENTS / 2 }).toEqual({
      report,
      aliceMostlyWaiting: true,
    });
    // About one segment per slot turnover, plus scheduling and prefill overhead.
    expect({ report, withinBound: bobWaitMs <= 2 * segmentMs + 1_500 }).toEqual({
      report,
      withinBound: true,
    });

    // Free the machine for the next file: alice's backlog is not what this test is about.
    await Promise.all(backlog.map((t) => c.alice.request('POST', `/v1/tasks/${t.id}/cancel`)));
    await waitFor(
      async () =>
        (await Promise.all(backlog.map((t) => c.alice.getTask(t.id)))).every((t) => t.status !== 'running'),
      { timeoutMs: 30_000, what: "alice's backlog to stop", intervalMs: 250 },
    );
  });
});
