import {
  exactLengthTask,
  readTaskEventStream,
  sequenceProblems,
  sleep,
  streamedText,
  useCluster,
  waitFor,
  type ApiClient,
} from '@gooseherd/test-kit';

// Redis is the platform's memory. While it is away the API says so (503) instead of hanging or guessing, and
// work it acknowledged before the outage is not lost: it completes once Redis is back.

/** Waits until `path` answers 503; each request may itself take up to 10 s (the API must not hang longer). */
function waitFor503(client: ApiClient, path: string, timeoutMs = 30_000) {
  return waitFor(
    async (seen) => {
      const res = await client.request('GET', path, undefined, { timeoutMs: 10_000 });
      seen(`HTTP ${res.status}`);
      return res.status === 503 && res;
    },
    { timeoutMs, what: `GET ${path} to answer 503 while Redis is unavailable`, intervalMs: 250 },
  );
}

describe('when Redis is unavailable', () => {
  const cluster = useCluster({ workers: 1, appendOnly: true });

  it('answers 503 on /readyz and on API calls while Redis is frozen, and 200 again when it returns', async () => {
    const c = cluster();
    c.redis.pause();
    try {
      await waitFor503(c.anonymous, '/readyz');
      const rest = await waitFor503(c.alice, '/v1/agents');
      expect(rest.contentType).toMatch(/^application\/problem\+json/);
    } finally {
      c.redis.resume();
    }
    await c.waitForReady(30_000);
    expect((await c.alice.request('GET', '/v1/agents')).status).toBe(200);
  });

  it('completes a task acknowledged before Redis went down, once Redis is back', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const accepted = await c.alice.submitTask(agent.id, exactLengthTask(200));

    await c.redis.shutdown();
    await waitFor503(c.anonymous, '/readyz');
    await sleep(2_000);
    await c.redis.restart();
    await c.waitForReady(60_000);
    // Nothing here restarts a worker: one that died with the connection would leave the task stranded.
    expect(c.workers.filter((w) => !w.running).map((w) => w.describe())).toEqual([]);

    const final = await c.alice.waitForSuccess(accepted.id, 180_000);
    expect(final.tokensOut).toBe(200);
    const log = await readTaskEventStream(c.baseUrl, c.keys.alice, accepted.id, { timeoutMs: 10_000 });
    const events = log.messages.map((m) => m.taskEvent);
    expect(log.end).toBe('final-event');
    expect(sequenceProblems(events)).toEqual([]);
    expect(streamedText(events)).toBe(final.output);
  });

  it('answers 503 naming OOM, with Retry-After, while Redis is full (noeviction), and loses nothing', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const admin = c.redis.redis();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const create = await c.alice.request('POST', '/v1/agents', {});
      const submit = await c.alice.request('POST', `/v1/agents/${agent.id}/tasks`, {
        input: 'hi',
        maxTokens: 4,
      });
      for (const res of [create, submit]) {
        expect(res.status).toBe(503);
        expect(res.contentType).toMatch(/^application\/problem\+json/);
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        // Redis is up but full: the client is told that, not that Redis is unreachable.
        expect((res.body as { detail: string }).detail).toMatch(/OOM/);
      }
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
    const again = await c.alice.request<{ id: string }>('GET', `/v1/agents/${agent.id}`);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(agent.id);
    const accepted = await c.alice.submitTask(agent.id, exactLengthTask(8));
    expect((await c.alice.waitForSuccess(accepted.id, 120_000)).tokensOut).toBe(8);
  });
});
