import { Keys } from '@gooseherd/store';
import { describeExchange, rawRequest, useCluster, type RawResponse } from '@gooseherd/test-kit';
import { survivalProblems } from './support/api-process';
import { Bystander, clientFor } from './support/bystander';
import { contractViolations } from './support/problem-checks';

// A request flood from one API key past GOOSEHERD_RATE_LIMIT: 429 with Retry-After for that key only, and
// what was refused had no effect. Set low for this file's cluster.

const LIMIT = 30;
const WINDOW_S = 5;
const FLOOD = 4 * LIMIT;

describe('per-key rate limit under a request flood', () => {
  const cluster = useCluster({
    workers: 1,
    env: { GOOSEHERD_RATE_LIMIT: String(LIMIT), GOOSEHERD_RATE_WINDOW_S: String(WINDOW_S) },
  });
  let lastRefusal: RawResponse | undefined;

  afterEach(async () => {
    expect(await survivalProblems(cluster())).toEqual([]);
  });

  it('answers 429 with Retry-After past the limit; refused requests create nothing; bob and default are unaffected', async () => {
    const c = cluster();
    // Bob's task runs throughout (3 of bob's requests: create, submit, and the final read).
    const bystander = await Bystander.start(c);
    const aliceSocket = await c.openSocket('alice');

    const floodStart = Date.now();
    const flood = Array.from({ length: FLOOD }, () =>
      rawRequest(c.baseUrl, { method: 'POST', path: '/v1/agents', apiKey: c.keys.alice, body: '{}' }),
    );
    // While alice floods: bob and the default tenant use their own budgets.
    const others = [
      ...Array.from({ length: 10 }, () =>
        clientFor(c, 'bob').request('GET', `/v1/tasks/${bystander.taskId}`),
      ),
      ...Array.from({ length: 5 }, () => clientFor(c, 'default').request('GET', '/v1/agents')),
    ];
    const answers = await Promise.all(flood);
    const floodMs = Date.now() - floodStart;
    expect((await Promise.all(others)).map((r) => r.status)).toEqual(Array(15).fill(200));

    const byStatus = new Map<number, RawResponse[]>();
    for (const res of answers) byStatus.set(res.status, [...(byStatus.get(res.status) ?? []), res]);
    expect([...byStatus.keys()].sort()).toEqual([201, 429]);
    // Exactly the limit, unless a very slow machine stretched the flood over more than one window.
    const windows = floodMs < WINDOW_S * 1000 ? 1 : Math.ceil(floodMs / (WINDOW_S * 1000)) + 1;
    const created = byStatus.get(201)!.length;
    if (windows === 1) expect(created).toBe(LIMIT);
    else expect(created).toBeLessThanOrEqual(LIMIT * windows);
    for (const res of byStatus.get(429)!) {
      const problems = contractViolations(res, { value: {}, root: 'body' });
      const retryAfter = Number(res.headers['retry-after']);
      if (!(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_S)) {
        problems.push(`Retry-After "${res.headers['retry-after']}" is not 1…${WINDOW_S} s`);
      }
      if (res.headers['ratelimit-remaining'] !== '0') problems.push('RateLimit-Remaining is not 0');
      if (problems.length > 0) {
        throw new Error(
          `${problems.join('; ')}\n  ${describeExchange({ method: 'POST', path: '/v1/agents' }, res)}`,
        );
      }
    }
    lastRefusal = byStatus.get(429)!.at(-1);

    // Refused requests had no effect: alice holds exactly the agents that were answered 201.
    expect(await c.redis.redis().zcard(new Keys(c.settings.prefix).tenantAgents('alice'))).toBe(created);

    // Her WebSocket is not rate-limited REST: it still answers.
    aliceSocket.send({ type: 'ping' });
    await aliceSocket.waitForFrame((f) => f.type === 'pong', { timeoutMs: 5_000, what: 'pong' });

    await bystander.verify();
  });

  it('unknown keys are answered 401 (nothing to count them against) and take nothing from real keys', async () => {
    const c = cluster();
    const strangers = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        rawRequest(c.baseUrl, {
          method: 'GET',
          path: '/v1/agents',
          apiKey: `stranger-key-${i}-0123456789abcdef`,
        }),
      ),
    );
    for (const res of strangers) {
      expect(res.status).toBe(401);
      expect(contractViolations(res, { value: undefined, root: 'body' })).toEqual([]);
    }
    expect((await c.bob.request('GET', '/v1/agents')).status).toBe(200);
  });

  it('serves the key again once Retry-After has passed', async () => {
    const c = cluster();
    const wait = Number(lastRefusal?.headers['retry-after'] ?? WINDOW_S);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000 + 250));
    const res = await c.alice.request('GET', '/v1/agents');
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('ratelimit-remaining'))).toBe(LIMIT - 1);
  });
});
