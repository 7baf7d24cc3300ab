import { STREAM_LIMITS } from '../events/stream-limits.js';
import { KEYS, runTask, startTestApi, TestSocket, waitFor, type Json, type TestApi } from './test-api.js';

// Limits on event streams, against the real app and Redis: subscribe frames cost rate-limit points, connections
// and subscriptions per key are capped also under racing frames, SSE streams share the subscription budget, and
// the stored events a key may replay per window are bounded.

const metric = async (api: TestApi, name: string): Promise<number> => {
  const text: string = (await api.call('GET', '/metrics', { key: null })).body;
  return Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]);
};

async function authenticated(api: TestApi, key = KEYS.alpha): Promise<TestSocket> {
  const socket = await TestSocket.open(`${api.wsUrl}?token=${key}`);
  expect((await socket.next()).type).toBe('authenticated');
  return socket;
}

/** Waits until `socket` has `count` answers (subscribed or error) to subscribe frames. */
const answers = (socket: TestSocket, count: number, timeoutMs = 20_000): Promise<Json[]> =>
  waitFor(
    `${count} answers`,
    () => {
      const got = socket.frames.filter((f) => f.type === 'subscribed' || f.type === 'error');
      return got.length >= count ? got : undefined;
    },
    timeoutMs,
  );

describe('WebSocket rate limit', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('wsrate', { GOOSEHERD_RATE_LIMIT: '30', GOOSEHERD_RATE_WINDOW_S: '60' });
  });
  afterAll(() => api.close());

  it('charges every subscribe frame to the key, as a REST request', async () => {
    const agent = (await api.call('POST', '/v1/agents', { json: {} })).body; // 1 point
    const socket = await authenticated(api);
    for (let i = 0; i < 40; i++) socket.send({ type: 'subscribe', agentId: agent.id });
    const got = await answers(socket, 40);
    expect(got.filter((f) => f.type === 'subscribed')).toHaveLength(29);
    const refused = got.filter((f) => f.type === 'error');
    expect(refused).toHaveLength(11);
    for (const f of refused) expect(f).toMatchObject({ code: 'rate_limited', field: 'agentId' });
    expect(refused[0].message).toMatch(/retry after \d+ s/);
    // The same budget: REST is refused now too, and the socket stays open.
    expect((await api.call('GET', '/v1/agents')).status).toBe(429);
    socket.send({ type: 'ping' });
    await waitFor('pong', () => socket.frames.find((f) => f.type === 'pong'));
    socket.close();
  });
});

describe('stream caps per key', () => {
  let api: TestApi;
  const agents: string[] = [];
  beforeAll(async () => {
    api = await startTestApi('wscaps', { GOOSEHERD_RATE_LIMIT: '1000000' });
    for (let i = 0; i < STREAM_LIMITS.subscriptionsPerConnection; i++)
      agents.push((await api.call('POST', '/v1/agents', { json: {} })).body.id);
  });
  afterAll(() => api.close());

  it('holds the subscription cap when subscribe frames race on many connections, and shares it with SSE', async () => {
    const perKey = STREAM_LIMITS.subscriptionsPerKey;
    const connections = perKey / STREAM_LIMITS.subscriptionsPerConnection + 2;
    const sockets = await Promise.all(Array.from({ length: connections }, () => authenticated(api)));
    // Every connection sends all its frames at once; each target twice (the second replaces the first).
    for (const socket of sockets)
      for (const agentId of agents) {
        socket.send({ type: 'subscribe', agentId });
        socket.send({ type: 'subscribe', agentId });
      }
    const all = (await Promise.all(sockets.map((s) => answers(s, agents.length * 2, 60_000)))).flat();
    const refused = all.filter((f) => f.type === 'error');
    for (const f of refused) expect(f).toMatchObject({ code: 'too_many_subscriptions', field: 'agentId' });
    // Granted subscriptions: distinct (connection, agent) pairs that were answered `subscribed` at least once.
    const held = sockets
      .map((s) => new Set(s.frames.filter((f) => f.type === 'subscribed').map((f) => f.agentId)).size)
      .reduce((a, b) => a + b, 0);
    expect(held).toBe(perKey);
    expect(await metric(api, 'gooseherd_ws_subscriptions')).toBe(perKey);

    // An SSE stream draws on the same budget: refused while the key holds every slot.
    const task = (await api.call('POST', `/v1/agents/${agents[0]}/tasks`, { json: { input: 'x' } })).body;
    const full = await fetch(`${api.url}/v1/tasks/${task.id}/events`, {
      headers: { authorization: `Bearer ${KEYS.alpha}` },
    });
    expect(full.status).toBe(429);
    expect(((await full.json()) as Json).type).toMatch(/too-many-subscriptions$/);

    // Another key is not affected; closing connections gives every slot back (the gauge never goes negative).
    const beta = await authenticated(api, KEYS.beta);
    beta.send({ type: 'subscribe', taskId: task.id });
    expect(await beta.next()).toMatchObject({ type: 'error', code: 'not_found' }); // not a cap
    beta.close();
    for (const socket of sockets) socket.close();
    const deadline = Date.now() + 5_000;
    while ((await metric(api, 'gooseherd_ws_subscriptions')) !== 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(await metric(api, 'gooseherd_ws_subscriptions')).toBe(0);
    const open = await fetch(`${api.url}/v1/tasks/${task.id}/events`, {
      headers: { authorization: `Bearer ${KEYS.alpha}` },
    });
    expect(open.status).toBe(200);
    await open.body?.cancel();
  }, 120_000);

  it(`caps connections per key at ${STREAM_LIMITS.connectionsPerKey} (4429); other keys still connect`, async () => {
    const sockets: TestSocket[] = [];
    for (let i = 0; i < STREAM_LIMITS.connectionsPerKey; i++) sockets.push(await authenticated(api));
    const extra = await TestSocket.open(api.wsUrl);
    extra.send({ type: 'auth', token: KEYS.alpha });
    expect(await extra.closed).toMatchObject({ code: 4429 });
    const beta = await authenticated(api, KEYS.beta);
    beta.close();
    sockets.pop()!.close();
    await new Promise((r) => setTimeout(r, 200));
    const again = await authenticated(api);
    again.close();
    for (const socket of sockets) socket.close();
  }, 120_000);
});

describe('replay volume per key', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('replay', { GOOSEHERD_RATE_LIMIT: '1000000' });
  });
  afterAll(() => api.close());

  it('ends a subscription that would pass the key budget of replayed events, naming where to resume', async () => {
    const tokens = 4_000;
    const agent = (await api.call('POST', '/v1/agents', { json: {} })).body;
    const task = (await api.call('POST', `/v1/agents/${agent.id}/tasks`, { json: { input: 'x' } })).body;
    await runTask(
      api,
      agent.id,
      Array.from({ length: tokens }, (_, i) => `${i} `),
    );
    // Stored events count as replayed once they are older than the clock slack.
    await new Promise((r) => setTimeout(r, STREAM_LIMITS.replayClockSlackMs + 500));

    const socket = await authenticated(api);
    const perReplay = tokens + 3; // queued, started, tokens, completed
    const full = Math.floor(STREAM_LIMITS.replayEventsPerKey / perReplay);
    let events = 0;
    let limited: Json | undefined;
    for (let i = 0; i <= full + 1 && !limited; i++) {
      socket.frames.length = 0;
      socket.send({ type: 'subscribe', taskId: task.id });
      await waitFor(
        'the replay to end',
        () =>
          socket.frames.find((f) => f.type === 'event' && f.kind === 'completed') ??
          socket.frames.find((f) => f.type === 'error'),
        30_000,
      );
      events += socket.frames.filter((f) => f.type === 'event').length;
      limited = socket.frames.find((f) => f.type === 'error');
    }
    expect(limited).toMatchObject({ code: 'replay_limited', field: 'taskId' });
    expect(events).toBe(STREAM_LIMITS.replayEventsPerKey);
    const resumeAfter = Number(/"after": (\d+)/.exec(limited!.message)?.[1]);
    expect(resumeAfter).toBe(STREAM_LIMITS.replayEventsPerKey - full * perReplay);
    socket.close();
  }, 180_000);
});
