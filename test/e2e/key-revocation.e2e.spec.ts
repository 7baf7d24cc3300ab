import { randomBytes } from 'node:crypto';
import { ApiClient, EventSocket, freePort, useCluster, waitFor } from '@gooseherd/test-kit';

// API keys live only in each API instance's configuration. Removing a key and restarting the instances makes
// it fail everywhere, REST and WebSocket, as soon as the last instance runs the new configuration; connections
// it had opened are closed by the restart and cannot come back.

const CLOSE_UNAUTHORIZED = 4401;

/** The close code a WebSocket connection ends with when it authenticates with `token` (query or first frame). */
async function closeCodeFor(wsUrl: string, token: string, how: 'query' | 'frame'): Promise<number> {
  const socket = await EventSocket.open(wsUrl, how === 'query' ? token : undefined);
  if (how === 'frame') socket.send({ type: 'auth', token });
  await waitFor(async () => socket.closed !== undefined, { timeoutMs: 10_000, what: 'the socket to close' });
  return socket.closed!.code;
}

async function authenticatedSocket(wsUrl: string, token: string): Promise<EventSocket> {
  const socket = await EventSocket.open(wsUrl, undefined);
  socket.send({ type: 'auth', token });
  await socket.waitForFrame((f) => f.type === 'authenticated', { timeoutMs: 10_000, what: 'authenticated' });
  return socket;
}

describe('API key revocation', () => {
  const cluster = useCluster({ workers: 0 });

  it('a key removed from the configuration fails on every instance once the last one restarted', async () => {
    const c = cluster();
    const onlyBob = { GOOSEHERD_API_KEYS: `bob:${c.keys.bob}` };
    const agent = await c.alice.createAgent();

    // A second instance beside the harness's, on the same Redis, with the same keys.
    const secondPort = await freePort();
    let second = c.spawnApiProcess('api-b', secondPort);
    const secondUrl = `http://127.0.0.1:${secondPort}`;
    const secondWs = `ws://127.0.0.1:${secondPort}/v1/ws`;
    const aliceOnSecond = new ApiClient(secondUrl, c.keys.alice);
    await waitFor(async () => (await aliceOnSecond.request('GET', '/v1/agents')).status === 200, {
      timeoutMs: 60_000,
      what: 'the second API to accept alice',
    });

    const socketOnFirst = await authenticatedSocket(c.wsUrl, c.keys.alice);
    const socketOnSecond = await authenticatedSocket(secondWs, c.keys.alice);
    expect(await socketOnFirst.subscribe({ agentId: agent.id })).toMatchObject({ type: 'subscribed' });

    // The first instance restarts without alice's key: her open socket there is closed, and the key is refused.
    await c.restartApi({ env: onlyBob });
    await waitFor(async () => socketOnFirst.closed !== undefined, {
      timeoutMs: 10_000,
      what: "alice's socket on the restarted instance to close",
    });
    expect((await c.alice.request('GET', `/v1/agents/${agent.id}`)).status).toBe(401);
    expect(await closeCodeFor(c.wsUrl, c.keys.alice, 'query')).toBe(CLOSE_UNAUTHORIZED);
    expect(await closeCodeFor(c.wsUrl, c.keys.alice, 'frame')).toBe(CLOSE_UNAUTHORIZED);
    expect((await c.bob.request('GET', '/v1/agents')).status).toBe(200);

    // The last instance restarts with the new configuration: alice's key is refused everywhere, at once.
    await second.stop(10_000);
    second = c.spawnApiProcess('api-b-2', secondPort, onlyBob);
    const bobOnSecond = new ApiClient(secondUrl, c.keys.bob);
    await waitFor(async () => (await bobOnSecond.request('GET', '/v1/agents')).status === 200, {
      timeoutMs: 60_000,
      what: 'the restarted second API to accept bob',
    });
    const restartedAt = Date.now();
    expect(socketOnSecond.closed).toBeDefined();
    expect((await aliceOnSecond.request('GET', `/v1/agents/${agent.id}`)).status).toBe(401);
    expect((await aliceOnSecond.request('POST', '/v1/agents', {})).status).toBe(401);
    expect(await closeCodeFor(secondWs, c.keys.alice, 'query')).toBe(CLOSE_UNAUTHORIZED);
    expect(await closeCodeFor(secondWs, c.keys.alice, 'frame')).toBe(CLOSE_UNAUTHORIZED);
    expect((await c.alice.request('GET', '/v1/agents')).status).toBe(401);
    expect(Date.now() - restartedAt).toBeLessThan(5_000);

    // Nothing in Redis can bring a key back: no key material is stored there.
    expect(await c.redis.redis().keys(`${c.settings.prefix}:key:*`)).toEqual([]);
  });

  it.each([
    ['GOOSEHERD_API_KEY', { GOOSEHERD_API_KEY: 'a'.repeat(24) }, /GOOSEHERD_API_KEY\b/],
    [
      'GOOSEHERD_API_KEYS',
      { GOOSEHERD_API_KEYS: 'eve:abcdefghijklmnopqrstuvwx' },
      /GOOSEHERD_API_KEYS \(tenant eve\)/,
    ],
    [
      'GOOSEHERD_API_KEYS',
      { GOOSEHERD_API_KEYS: 'eve:abababababababababab' },
      /GOOSEHERD_API_KEYS \(tenant eve\)/,
    ],
    ['GOOSEHERD_API_KEY', { GOOSEHERD_API_KEY: 'short-key' }, /GOOSEHERD_API_KEY/],
  ])('refuses to start with a guessable key in %s, naming the variable', async (_, env, named) => {
    const c = cluster();
    const api = c.spawnApiProcess(`weak-${randomBytes(3).toString('hex')}`, await freePort(), {
      GOOSEHERD_API_KEYS: `bob:${c.keys.bob}`,
      ...env,
    });
    const exit = await api.waitForExit(30_000);
    expect(exit.code).toBe(1);
    expect(api.tail(5)).toMatch(named);
  });
});
