import { startTestApi, KEYS, type TestApi } from './test-api.js';

// POST /v1/agents/{id}/tasks: the Idempotency-Key header and the limits on what one agent and one tenant may queue
// and store (real app, real Redis).

describe('task submission', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('submission', {
      GOOSEHERD_MAX_QUEUED_TASKS: '3',
      GOOSEHERD_MAX_TENANT_BYTES: '4096',
    });
  });
  afterAll(() => api.close());

  const newAgent = async (key = KEYS.alpha) =>
    (await api.call('POST', '/v1/agents', { key })).body.id as string;
  const submit = (agentId: string, json: unknown, headers: Record<string, string> = {}, key = KEYS.alpha) =>
    api.call('POST', `/v1/agents/${agentId}/tasks`, { key, json, headers });

  it('returns the same task for the same Idempotency-Key and body, never a second one', async () => {
    const agent = await newAgent();
    const body = { input: 'Say hello.', maxTokens: 8 };
    const first = await submit(agent, body, { 'Idempotency-Key': 'order-42' });
    const again = await submit(agent, body, { 'Idempotency-Key': 'order-42' });
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const view = await api.call('GET', `/v1/agents/${agent}`, { key: KEYS.alpha });
    expect(view.body.pendingTasks).toBe(1);
    // Another key is another task.
    const other = await submit(agent, body, { 'Idempotency-Key': 'order-43' });
    expect(other.status).toBe(202);
    expect(other.body.id).not.toBe(first.body.id);
  });

  it('answers 422 naming the header when the key comes back with another body', async () => {
    const agent = await newAgent();
    await submit(agent, { input: 'one' }, { 'Idempotency-Key': 'k-1' });
    const reply = await submit(agent, { input: 'two' }, { 'Idempotency-Key': 'k-1' });
    expect(reply.status).toBe(422);
    expect(reply.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(reply.body.errors).toEqual([{ field: 'Idempotency-Key', message: expect.any(String) }]);
    expect((await api.call('GET', `/v1/agents/${agent}`, { key: KEYS.alpha })).body.pendingTasks).toBe(1);
  });

  it('answers 400 naming the header for a malformed key', async () => {
    const agent = await newAgent();
    const reply = await submit(agent, { input: 'x' }, { 'Idempotency-Key': 'x'.repeat(256) });
    expect(reply.status).toBe(400);
    expect(reply.body.errors[0].field).toBe('Idempotency-Key');
  });

  it('caps the tasks one agent may hold (429 naming GOOSEHERD_MAX_QUEUED_TASKS), losing none it accepted', async () => {
    const agent = await newAgent();
    const accepted = [];
    for (let i = 0; i < 3; i++) accepted.push((await submit(agent, { input: `t${i}` })).status);
    expect(accepted).toEqual([202, 202, 202]);
    const refused = await submit(agent, { input: 'one too many' });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.errors[0].field).toBe('GOOSEHERD_MAX_QUEUED_TASKS');
    expect(refused.body.detail).toMatch(/maximum of 3/);
    expect((await api.call('GET', `/v1/agents/${agent}`, { key: KEYS.alpha })).body.pendingTasks).toBe(3);
    // Another agent of the same tenant is not affected.
    expect((await submit(await newAgent(), { input: 'fine' })).status).toBe(202);
  });

  it('caps the bytes one tenant stores (429 naming GOOSEHERD_MAX_TENANT_BYTES); another tenant is unaffected', async () => {
    const agents = [await newAgent(KEYS.beta), await newAgent(KEYS.beta)];
    const big = 'x'.repeat(1500);
    const first = await submit(agents[0], { input: big }, { 'Idempotency-Key': 'first' }, KEYS.beta);
    const statuses = [first.status];
    for (let i = 1; i < 4; i++)
      statuses.push((await submit(agents[i % 2], { input: big }, {}, KEYS.beta)).status);
    expect(statuses).toEqual([202, 202, 429, 429]);
    const refused = await submit(agents[1], { input: big }, {}, KEYS.beta);
    expect(refused.body.errors[0].field).toBe('GOOSEHERD_MAX_TENANT_BYTES');
    // A retry of a submission accepted before the cap still gets its task.
    const retry = await submit(agents[0], { input: big }, { 'Idempotency-Key': 'first' }, KEYS.beta);
    expect([retry.status, retry.body.id]).toEqual([202, first.body.id]);
    expect((await submit(await newAgent(KEYS.alpha), { input: big })).status).toBe(202);
  });
});
