import type { TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  readTaskEventStream,
  sequenceProblems,
  streamedText,
  useCluster,
} from '@gooseherd/test-kit';

// The public contract as a client sees it over the wire: REST shapes and errors, the event stream over SSE and
// WebSocket, and the operational endpoints.

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const PROBLEM_JSON = /^application\/problem\+json/;

describe('the API contract', () => {
  const cluster = useCluster({ workers: 1 });

  it('creates, lists, reads and deletes agents with the documented shapes', async () => {
    const { alice } = cluster();
    const created = await alice.createAgent({ system: 'Be brief.', sampling: { temperature: 0.7 } });
    expect(created).toMatchObject({
      id: expect.any(String),
      model: expect.any(String),
      stateVersion: expect.any(Number),
      tokensSeen: expect.any(Number),
      createdAt: expect.stringMatching(ISO_TIME),
    });
    expect((await alice.listAgents()).items.map((a) => a.id)).toContain(created.id);
    expect(await alice.getAgent(created.id)).toMatchObject({ id: created.id, model: created.model });

    const deleted = await alice.request('DELETE', `/v1/agents/${created.id}`);
    expect([200, 204]).toContain(deleted.status);
    const gone = await alice.request('GET', `/v1/agents/${created.id}`);
    expect(gone.status).toBe(404);
    expect(gone.contentType).toMatch(PROBLEM_JSON);
    expect(gone.body).toMatchObject({ status: 404, title: expect.any(String) });
  });

  it('accepts a task with 202 and reports it with the documented fields until it succeeds', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const res = await c.alice.request('POST', `/v1/agents/${agent.id}/tasks`, exactLengthTask(12, 'Hello.'));
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), agentId: agent.id, status: 'queued' });
    const { id } = res.body as { id: string };

    const done = await c.alice.waitForSuccess(id, 60_000);
    expect(done).toMatchObject<Partial<TaskView>>({
      id,
      agentId: agent.id,
      status: 'succeeded',
      output: expect.any(String),
      tokensOut: 12,
      attempts: 1,
      worker: expect.any(String),
    });
    expect(done.tokensIn).toBeGreaterThan(0);
    expect(done.error).toBeUndefined();
    expect(() => c.workerFor(done.worker)).not.toThrow();
  });

  it('refuses an invalid request body with 400 problem details', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const bad = await c.alice.request('POST', `/v1/agents/${agent.id}/tasks`, { input: 'x', maxTokens: 0 });
    expect(bad.status).toBe(400);
    expect(bad.contentType).toMatch(PROBLEM_JSON);
    expect(bad.body).toMatchObject({ status: 400, title: expect.any(String) });
    const notJson = await c.alice.request('POST', '/v1/agents', '{"model":', {});
    expect(notJson.status).toBe(400);
    expect(notJson.contentType).toMatch(PROBLEM_JSON);
  });

  it('accepts the default tenant key given as GOOSEHERD_API_KEY', async () => {
    const c = cluster();
    const res = await c.anonymous.request(
      'POST',
      '/v1/agents',
      {},
      { headers: { authorization: `Bearer ${c.keys.default}` } },
    );
    expect(res.status).toBe(201);
  });

  it('streams a task over SSE with seq as the event id, and resumes after Last-Event-ID without gaps or duplicates', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(300));

    // Read part of the stream live, drop the connection, resume from the last id seen.
    const firstPart = await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, {
      timeoutMs: 60_000,
      count: 20,
    });
    expect(firstPart.status).toBe(200);
    expect(firstPart.contentType).toMatch(/^text\/event-stream/);
    expect(firstPart.end).toBe('count');
    for (const m of firstPart.messages) expect(m.id).toBe(String(m.taskEvent.seq));
    const lastId = firstPart.messages[firstPart.messages.length - 1].taskEvent.seq;

    const rest = await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, {
      timeoutMs: 60_000,
      lastEventId: lastId,
    });
    expect(rest.end).toBe('final-event');
    const events = [...firstPart.messages, ...rest.messages].map((m) => m.taskEvent);
    expect(sequenceProblems(events)).toEqual([]);
    expect(events[0].kind).toBe('queued');
    expect(events[events.length - 1].kind).toBe('completed');

    const final = await c.alice.getTask(task.id);
    expect(streamedText(events)).toBe(final.output);

    // A completed task's log replays whole, and from any point.
    const replay = await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, {
      timeoutMs: 10_000,
      lastEventId: 5,
    });
    expect(replay.messages.map((m) => m.taskEvent.seq)).toEqual(events.slice(5).map((e) => e.seq));
  });

  it('delivers the same events over WebSocket as over SSE, replaying after the given seq', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const task = await c.alice.submitTask(agent.id, exactLengthTask(40));
    const live = await c.openSocket();
    expect(await live.subscribe({ taskId: task.id })).toMatchObject({ type: 'subscribed', taskId: task.id });
    const finalEvent = await live.waitForFinalEvent(task.id, 60_000);
    expect(finalEvent.kind).toBe('completed');

    const overWs = live.events({ taskId: task.id });
    for (const e of overWs) {
      expect(e).toMatchObject({
        taskId: task.id,
        agentId: agent.id,
        seq: expect.any(Number),
        data: expect.any(Object),
      });
    }
    const overSse = (await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, { timeoutMs: 10_000 }))
      .messages;
    expect(overWs.map((e) => [e.seq, e.kind])).toEqual(
      overSse.map((m) => [m.taskEvent.seq, m.taskEvent.kind]),
    );
    expect(streamedText(overWs)).toBe((await c.alice.getTask(task.id)).output);

    const late = await c.openSocket();
    await late.subscribe({ taskId: task.id }, 10);
    await late.waitForFinalEvent(task.id, 10_000);
    expect(late.events({ taskId: task.id }).map((e) => e.seq)).toEqual(overWs.slice(10).map((e) => e.seq));
  });

  it('answers malformed WebSocket frames with an error frame and keeps the connection open', async () => {
    const c = cluster();
    const socket = await c.openSocket();
    const malformed = ['this is not json', '{"type":"subscribe"}', '{"type":"no-such-frame"}', '[1,2,3]'];
    for (const frame of malformed) {
      const from = socket.received.length;
      socket.send(frame);
      const answer = await socket.waitForFrame((f) => f.type === 'error', {
        timeoutMs: 5_000,
        what: `an error frame answering ${frame}`,
        fromIndex: from,
      });
      expect(answer).toMatchObject({ type: 'error', code: expect.any(String), message: expect.any(String) });
    }
    expect(socket.closed).toBeUndefined();
    const agent = await c.alice.createAgent();
    expect(await socket.subscribe({ agentId: agent.id })).toMatchObject({ type: 'subscribed' });
  });

  it('serves health, readiness, metrics and docs', async () => {
    const { anonymous } = cluster();
    expect((await anonymous.request('GET', '/healthz')).status).toBe(200);
    expect((await anonymous.request('GET', '/readyz')).status).toBe(200);
    const metrics = await anonymous.request('GET', '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.contentType).toMatch(/^text\/plain/);
    expect(String(metrics.body)).toMatch(/^# (HELP|TYPE) /m);
    const docs = await anonymous.request('GET', '/docs');
    expect(docs.status).toBe(200);
  });
});
