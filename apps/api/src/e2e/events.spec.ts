import type { TaskEvent } from '@gooseherd/contracts';
import { WS_LIMITS } from '../ws/event-socket-session.js';
import {
  KEYS,
  readSse,
  runTask,
  startTestApi,
  TestSocket,
  waitFor,
  type Json,
  type TestApi,
} from './test-api.js';

describe('task events (SSE and WebSocket)', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('events');
  });
  afterAll(() => api.close());

  /** A new agent with one queued task, as alpha. */
  async function queuedTask(): Promise<{ agentId: string; taskId: string }> {
    const agent = await api.call('POST', '/v1/agents', { json: {} });
    const task = await api.call('POST', `/v1/agents/${agent.body.id}/tasks`, { json: { input: 'Hi' } });
    return { agentId: agent.body.id, taskId: task.body.id };
  }

  const sse = (taskId: string, headers: Record<string, string> = {}, query = '') =>
    fetch(`${api.url}/v1/tasks/${taskId}/events${query}`, {
      headers: { authorization: `Bearer ${KEYS.alpha}`, ...headers },
    });

  describe('Server-Sent Events', () => {
    it('streams replay then live events in order, and ends after the final one', async () => {
      const { agentId, taskId } = await queuedTask();
      const res = await sse(taskId);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const reading = readSse(res);
      await runTask(api, agentId, ['a', 'b', 'c']);
      const { events, ended } = await reading;
      expect(ended).toBe(true);
      expect(events.map((e) => [e.id, e.event])).toEqual([
        ['1', 'queued'],
        ['2', 'started'],
        ['3', 'token'],
        ['4', 'token'],
        ['5', 'token'],
        ['6', 'completed'],
      ]);
      const parsed = events.map((e) => JSON.parse(e.data) as TaskEvent);
      expect(parsed[2]).toMatchObject({ seq: 3, taskId, agentId, kind: 'token', data: { text: 'a' } });
    });

    it('resumes after Last-Event-ID (and ?after=) without gaps or duplicates', async () => {
      const { agentId, taskId } = await queuedTask();
      await runTask(api, agentId, ['x', 'y']);
      const byHeader = await readSse(await sse(taskId, { 'last-event-id': '2' }));
      expect(byHeader.events.map((e) => Number(e.id))).toEqual([3, 4, 5]);
      expect(byHeader.ended).toBe(true);
      const byQuery = await readSse(await sse(taskId, {}, '?after=4'));
      expect(byQuery.events.map((e) => e.event)).toEqual(['completed']);
      const nothingLeft = await readSse(await sse(taskId, { 'last-event-id': '5' }), 3_000);
      expect(nothingLeft).toEqual({ events: [], ended: true });
    });

    it('refuses a bad cursor with 400 naming it, and another tenant with 404', async () => {
      const { taskId } = await queuedTask();
      const bad = await sse(taskId, { 'last-event-id': 'yesterday' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as Json).errors[0].field).toBe('Last-Event-ID');
      const badQuery = await sse(taskId, {}, '?after=-1');
      expect(badQuery.status).toBe(400);
      expect(((await badQuery.json()) as Json).errors[0].field).toBe('after');
      const other = await fetch(`${api.url}/v1/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${KEYS.beta}` },
      });
      expect(other.status).toBe(404);
      expect((await fetch(`${api.url}/v1/tasks/${taskId}/events`)).status).toBe(401);
    });

    it('stops following when the client disconnects', async () => {
      const { taskId } = await queuedTask();
      const controller = new AbortController();
      const res = await fetch(`${api.url}/v1/tasks/${taskId}/events`, {
        headers: { authorization: `Bearer ${KEYS.alpha}` },
        signal: controller.signal,
      });
      const metric = async () =>
        /^gooseherd_sse_streams (\d+)/m.exec((await api.call('GET', '/metrics')).body)![1];
      expect(await metric()).toBe('1');
      controller.abort();
      await res.body?.cancel().catch(() => undefined);
      const deadline = Date.now() + 5_000;
      while ((await metric()) !== '0' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await metric()).toBe('0');
    });
  });

  describe('WebSocket /v1/ws', () => {
    it('authenticates with ?token= and replays after `after`, then streams live', async () => {
      const { agentId, taskId } = await queuedTask();
      const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.alpha}`);
      expect(await socket.next()).toEqual({ type: 'authenticated', tenant: 'alpha' });
      socket.send({ type: 'subscribe', taskId, after: 0 });
      expect(await socket.next()).toEqual({ type: 'subscribed', taskId, after: 0 });
      expect(await socket.next()).toMatchObject({ type: 'event', seq: 1, kind: 'queued', taskId, agentId });
      await runTask(api, agentId, ['p', 'q']);
      const live = [await socket.next(), await socket.next(), await socket.next(), await socket.next()];
      expect(live.map((f) => [f.seq, f.kind])).toEqual([
        [2, 'started'],
        [3, 'token'],
        [4, 'token'],
        [5, 'completed'],
      ]);
      expect(live[1]).toMatchObject({
        data: { text: 'p' },
        agentSeq: expect.any(Number),
        at: expect.any(String),
      });

      socket.send({ type: 'subscribe', taskId, after: 3 });
      expect(await socket.next()).toEqual({ type: 'subscribed', taskId, after: 3 });
      expect((await socket.next()).seq).toBe(4);
      expect((await socket.next()).seq).toBe(5);
      socket.send({ type: 'ping' });
      expect(await socket.next()).toEqual({ type: 'pong' });
      socket.close();
    });

    it("follows all of an agent's tasks by agentSeq", async () => {
      const { agentId } = await queuedTask();
      await runTask(api, agentId, ['1']);
      const socket = await TestSocket.open(api.wsUrl);
      socket.send({ type: 'auth', token: KEYS.alpha });
      expect((await socket.next()).type).toBe('authenticated');
      socket.send({ type: 'subscribe', agentId, after: 2 });
      expect(await socket.next()).toEqual({ type: 'subscribed', agentId, after: 2 });
      expect((await socket.next()).agentSeq).toBe(3);
      expect((await socket.next()).kind).toBe('completed');
      const second = await api.call('POST', `/v1/agents/${agentId}/tasks`, { json: { input: 'again' } });
      const queued = await socket.next();
      expect(queued).toMatchObject({ kind: 'queued', taskId: second.body.id, seq: 1, agentSeq: 5 });
      socket.send({ type: 'unsubscribe', agentId });
      expect(await socket.next()).toEqual({ type: 'unsubscribed', agentId });
      socket.close();
    });

    it("answers not_found for another tenant's task or agent, as for an absent one", async () => {
      const { agentId, taskId } = await queuedTask();
      const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.beta}`);
      await socket.next();
      socket.send({ type: 'subscribe', taskId });
      expect(await socket.next()).toMatchObject({ type: 'error', code: 'not_found', field: 'taskId' });
      socket.send({ type: 'subscribe', agentId });
      expect(await socket.next()).toMatchObject({ type: 'error', code: 'not_found', field: 'agentId' });
      socket.send({ type: 'subscribe', taskId: 'tsk_AAAAAAAAAAAAAAAAAAAAAA' });
      expect(await socket.next()).toMatchObject({ type: 'error', code: 'not_found', field: 'taskId' });
      socket.close();
    });

    it('answers malformed frames with an error naming the field and keeps the connection', async () => {
      const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.alpha}`);
      await socket.next();
      const cases: [unknown, string, string?][] = [
        ['{not json', 'invalid_json'],
        ['[1,2]', 'invalid_frame'],
        [{ type: 'dance' }, 'invalid_frame', 'type'],
        [{ type: 'constructor' }, 'invalid_frame', 'type'],
        [{ taskId: 'x' }, 'invalid_frame', 'type'],
        [{ type: 'subscribe', taskId: 'x', after: -1 }, 'invalid_frame', 'after'],
        [{ type: 'subscribe', taskId: 'x', after: 'soon' }, 'invalid_frame', 'after'],
        [{ type: 'subscribe', taskId: 'x'.repeat(65) }, 'invalid_frame', 'taskId'],
        [{ type: 'subscribe' }, 'invalid_frame', 'taskId'],
        [{ type: 'subscribe', taskId: 'a', agentId: 'b' }, 'invalid_frame', 'taskId'],
        [{ type: 'subscribe', taskId: 'a', extra: 1 }, 'invalid_frame', 'extra'],
        [{ type: 'unsubscribe', taskId: 'never' }, 'not_subscribed', 'taskId'],
      ];
      for (const [frame, code, field] of cases) {
        socket.send(frame);
        const reply = await socket.next();
        expect([frame, reply.type, reply.code, reply.field]).toEqual([frame, 'error', code, field]);
      }
      socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await socket.next()).toMatchObject({ type: 'error', code: 'invalid_frame' });
      socket.send({ type: 'ping' });
      expect(await socket.next()).toEqual({ type: 'pong' });
      socket.close();
    });

    it('closes with 4401 on a bad token, a bad auth frame, or a frame before auth', async () => {
      const badToken = await TestSocket.open(`${api.wsUrl}?token=wrong-key-0123456789`);
      expect((await badToken.closed).code).toBe(4401);
      const badFrame = await TestSocket.open(api.wsUrl);
      badFrame.send({ type: 'auth', token: 'wrong-key-0123456789' });
      expect((await badFrame.closed).code).toBe(4401);
      const early = await TestSocket.open(api.wsUrl);
      early.send({ type: 'subscribe', taskId: 'x' });
      expect((await early.closed).code).toBe(4401);
    });

    it('closes with 4401 when no auth frame comes within the grace period', async () => {
      const silent = await TestSocket.open(api.wsUrl);
      const started = Date.now();
      expect((await silent.closed).code).toBe(4401);
      expect(Date.now() - started).toBeGreaterThan(4_000);
    }, 15_000);

    it('caps subscriptions per connection (a repeated target replaces, not adds)', async () => {
      const { agentId, taskId } = await queuedTask();
      const taskIds = [taskId];
      for (let i = 1; i < WS_LIMITS.subscriptionsPerConnection; i++) {
        taskIds.push(
          (await api.call('POST', `/v1/agents/${agentId}/tasks`, { json: { input: `t${i}` } })).body.id,
        );
      }
      const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.alpha}`);
      await socket.next();
      for (const id of taskIds) socket.send({ type: 'subscribe', taskId: id, after: 1 });
      socket.send({ type: 'subscribe', taskId, after: 1 });
      socket.send({ type: 'subscribe', agentId });
      const error = await waitFor('the cap error', () => socket.frames.find((f) => f.type === 'error'));
      expect(error).toMatchObject({ code: 'too_many_subscriptions', field: 'agentId' });
      expect(socket.frames.filter((f) => f.type === 'subscribed')).toHaveLength(taskIds.length + 1);
      socket.send({ type: 'unsubscribe', taskId });
      socket.send({ type: 'subscribe', agentId });
      await waitFor('the agent subscription', () =>
        socket.frames.find((f) => f.type === 'subscribed' && f.agentId),
      );
      socket.close();
      await api.call('DELETE', `/v1/agents/${agentId}`);
    });
  });
});
