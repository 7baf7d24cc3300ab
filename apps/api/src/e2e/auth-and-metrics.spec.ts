import { Redis } from 'ioredis';
import { AUTH_FAILURE_LIMITS } from '../auth/failed-auth-limiter.js';
import { QUEUE_GAUGE_TTL_MS } from '../observability/metrics.js';
import { KEYS, REDIS_URL, startTestApi, TestSocket, type TestApi } from './test-api.js';

describe('failed authentications per client address', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('authfail');
  });
  afterAll(() => api.close());

  it(`answers 429 with Retry-After past ${AUTH_FAILURE_LIMITS.failures} failures, to any key, REST and WebSocket`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_FAILURE_LIMITS.failures + 5; i++)
      statuses.push((await api.call('GET', '/v1/agents', { key: `guess-${i}-0123456789abcdef` })).status);
    expect(statuses.slice(0, AUTH_FAILURE_LIMITS.failures).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(AUTH_FAILURE_LIMITS.failures)).toEqual([429, 429, 429, 429, 429]);

    // Blocked: even the right key is refused from this address, so guessing cannot go on.
    const right = await api.call('GET', '/v1/agents');
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(right.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(right.body.type).toMatch(/too-many-failed-authentications$/);

    const socket = await TestSocket.open(`${api.wsUrl}?token=${KEYS.alpha}`);
    expect(await socket.closed).toMatchObject({ code: 4429 });
  });
});

describe('/metrics', () => {
  let api: TestApi;
  let monitor: Redis;
  beforeAll(async () => {
    api = await startTestApi('metricscache');
    monitor = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    monitor.disconnect();
    await api.close();
  });

  it(`reads the queue depth from Redis at most once per ${QUEUE_GAUGE_TTL_MS} ms, however often it is scraped`, async () => {
    const commands: string[] = [];
    const feed = await monitor.monitor();
    feed.on('monitor', (_time: string, args: string[]) => {
      // A queue-depth query is one script call (the commands it runs inside show up too; they are not counted).
      if (/^eval/i.test(args[0]) && args.some((a) => a.includes(api.prefix))) commands.push(args[0]);
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const scrapes = await Promise.all(
      Array.from({ length: 20 }, () => api.call('GET', '/metrics', { key: null })),
    );
    for (let i = 0; i < 20; i++) scrapes.push(await api.call('GET', '/metrics', { key: null }));
    const elapsed = Date.now() - started;
    await new Promise((r) => setTimeout(r, 200));
    feed.disconnect();
    for (const s of scrapes) expect(s.body).toMatch(/^gooseherd_queue_waiting_jobs \d+/m);
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.length).toBeLessThanOrEqual(Math.ceil(elapsed / QUEUE_GAUGE_TTL_MS) + 1);
  });
});
