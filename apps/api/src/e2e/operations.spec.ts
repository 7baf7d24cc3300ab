import { KEYS, startTestApi, TestSocket, type TestApi } from './test-api.js';

const PROBLEM_JSON = /^application\/problem\+json/;

describe('probes, metrics, docs', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('ops');
  });
  afterAll(() => api.close());

  it('answers /healthz and /readyz without a key', async () => {
    expect(await api.call('GET', '/healthz', { key: null })).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await api.call('GET', '/readyz', { key: null })).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
  });

  it('serves Prometheus metrics: HTTP durations by route and status, ws, sse, queue', async () => {
    await api.call('GET', '/v1/agents');
    await api.call('GET', '/v1/agents', { key: null });
    const reply = await api.call('GET', '/metrics', { key: null });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/plain/);
    const text: string = reply.body;
    expect(text).toMatch(
      /gooseherd_http_request_duration_seconds_count\{method="GET",route="\/v1\/agents",status="200"\} 1/,
    );
    expect(text).toMatch(
      /gooseherd_http_request_duration_seconds_count\{method="GET",route="\/v1\/agents",status="401"\} 1/,
    );
    for (const name of [
      'gooseherd_ws_connections',
      'gooseherd_ws_subscriptions',
      'gooseherd_sse_streams',
      'gooseherd_queue_waiting_jobs',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d+`, 'm'));
    }
  });

  it('serves the OpenAPI document built from the zod schemas, and Swagger UI', async () => {
    const doc = await api.call('GET', '/docs/openapi.json', { key: null });
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe('3.1.0');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/agents',
        '/v1/agents/{id}',
        '/v1/agents/{id}/tasks',
        '/v1/tasks/{id}/events',
      ]),
    );
    const createTask = doc.body.components.schemas.CreateTask;
    expect(createTask.required).toEqual(['input']);
    expect(createTask.properties.input.maxLength).toBe(32_768);
    expect(createTask.additionalProperties).toBe(false);
    const ui = await api.call('GET', '/docs', { key: null });
    expect(ui.status).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
  });
});

describe('rate limit', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('ratelimit', { GOOSEHERD_RATE_LIMIT: '3', GOOSEHERD_RATE_WINDOW_S: '60' });
  });
  afterAll(() => api.close());

  it('answers 429 problem with Retry-After past the limit, per key', async () => {
    for (let i = 0; i < 3; i++) expect((await api.call('GET', '/v1/agents')).status).toBe(200);
    const limited = await api.call('GET', '/v1/agents');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('content-type')).toMatch(PROBLEM_JSON);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await api.call('GET', '/v1/agents', { key: KEYS.beta })).status).toBe(200);
  });
});

describe('with Redis unreachable', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('noredis', { REDIS_URL: 'redis://127.0.0.1:1' });
  });
  afterAll(() => api.close());

  it('stays up and answers 503 problems quickly', async () => {
    expect((await api.call('GET', '/healthz')).status).toBe(200);
    for (const [method, path, key] of [
      ['GET', '/readyz', KEYS.alpha],
      ['GET', '/v1/agents', KEYS.alpha],
      ['POST', '/v1/agents', KEYS.alpha],
      ['GET', '/v1/agents', 'unknown-key-0123456789abc'],
    ] as const) {
      const started = Date.now();
      const reply = await api.call(method, path, { key });
      expect([path, reply.status]).toEqual([path, 503]);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(Date.now() - started).toBeLessThan(1_500);
    }
    const metrics = await api.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
  });

  it('answers a WebSocket subscribe with an `unavailable` error', async () => {
    const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.alpha}`);
    expect((await socket.next()).type).toBe('authenticated');
    socket.send({ type: 'subscribe', taskId: 'tsk_AAAAAAAAAAAAAAAAAAAAAA' });
    expect(await socket.next()).toMatchObject({ type: 'error', code: 'unavailable', field: 'taskId' });
    socket.close();
  });
});
