import { LIMITS } from '@gooseherd/contracts';
import { KEYS, runTask, startTestApi, type TestApi } from './test-api.js';

const PROBLEM_JSON = /^application\/problem\+json/;

describe('REST API', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('rest', {
      GOOSEHERD_MAX_AGENTS_PER_TENANT: '3',
      GOOSEHERD_MODEL_NAME: 'rwkv7-test',
    });
  });
  afterAll(() => api.close());

  const createAgent = async (key = KEYS.alpha, json: unknown = {}) => {
    const reply = await api.call('POST', '/v1/agents', { key, json });
    expect(reply.status).toBe(201);
    return reply.body as { id: string };
  };

  describe('authentication', () => {
    it.each([
      ['no Authorization header', null],
      ['an unknown key', 'not-a-key-0123456789abcdef'],
      ['an oversized key', 'k'.repeat(600)],
    ])('answers 401 problem for %s', async (_, key) => {
      const reply = await api.call('GET', '/v1/agents', { key });
      expect(reply.status).toBe(401);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
      expect(reply.body).toMatchObject({ status: 401, title: 'Unauthorized' });
    });

    it('answers 401 for a non-Bearer scheme', async () => {
      const reply = await api.call('GET', '/v1/agents', {
        key: null,
        headers: { authorization: `Basic ${KEYS.alpha}` },
      });
      expect(reply.status).toBe(401);
    });
  });

  describe('agents', () => {
    it('creates an agent with the served model by default', async () => {
      const reply = await api.call('POST', '/v1/agents', {
        json: { system: 'You are terse.', sampling: { topP: 0.5 } },
      });
      expect(reply.status).toBe(201);
      expect(reply.body).toMatchObject({ model: 'rwkv7-test', stateVersion: 0, tokensSeen: 0 });
      expect(typeof reply.body.id).toBe('string');
      expect(typeof reply.body.createdAt).toBe('string');
      const got = await api.call('GET', `/v1/agents/${reply.body.id}`);
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({
        id: reply.body.id,
        system: 'You are terse.',
        sampling: { topP: 0.5 },
      });
      await api.call('DELETE', `/v1/agents/${reply.body.id}`);
    });

    it('accepts a POST without a body', async () => {
      const reply = await api.call('POST', '/v1/agents', { key: KEYS.beta });
      expect(reply.status).toBe(201);
      await api.call('DELETE', `/v1/agents/${reply.body.id}`, { key: KEYS.beta });
    });

    it('refuses an unknown model with 422 naming `model`', async () => {
      const reply = await api.call('POST', '/v1/agents', { json: { model: 'gpt-9' } });
      expect(reply.status).toBe(422);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(reply.body.errors).toEqual([{ field: 'model', message: expect.any(String) }]);
    });

    it('lists agents in pages with a cursor', async () => {
      const ids = [(await createAgent()).id, (await createAgent()).id];
      const first = await api.call('GET', '/v1/agents?limit=1');
      expect(first.status).toBe(200);
      expect(first.body.items).toHaveLength(1);
      expect(first.body.nextCursor).toEqual(expect.any(String));
      const second = await api.call(
        'GET',
        `/v1/agents?limit=1&cursor=${encodeURIComponent(first.body.nextCursor)}`,
      );
      expect(second.body.items).toHaveLength(1);
      expect(new Set([first.body.items[0].id, second.body.items[0].id])).toEqual(new Set(ids));
      for (const id of ids) expect((await api.call('DELETE', `/v1/agents/${id}`)).status).toBe(204);
      expect((await api.call('GET', `/v1/agents/${ids[0]}`)).status).toBe(404);
    });

    it('answers 409 problem at the agent limit (create and fork)', async () => {
      const ids = [(await createAgent()).id, (await createAgent()).id, (await createAgent()).id];
      const create = await api.call('POST', '/v1/agents', { json: {} });
      expect(create.status).toBe(409);
      expect(create.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect((await api.call('POST', `/v1/agents/${ids[0]}/fork`)).status).toBe(409);
      for (const id of ids) await api.call('DELETE', `/v1/agents/${id}`);
    });

    it('forks an agent into a new one', async () => {
      const { id } = await createAgent(KEYS.alpha, { system: 'sys' });
      const fork = await api.call('POST', `/v1/agents/${id}/fork`);
      expect(fork.status).toBe(201);
      expect(fork.body).toMatchObject({ model: 'rwkv7-test', system: 'sys', forkedFrom: id });
      expect(fork.body.id).not.toBe(id);
      await api.call('DELETE', `/v1/agents/${id}`);
      await api.call('DELETE', `/v1/agents/${fork.body.id}`);
    });
  });

  describe('tasks', () => {
    let agentId: string;
    beforeAll(async () => {
      agentId = (await createAgent(KEYS.alpha)).id;
    });
    afterAll(() => api.call('DELETE', `/v1/agents/${agentId}`));

    it('queues a task (202), enqueues its segment, and shows it', async () => {
      const reply = await api.call('POST', `/v1/agents/${agentId}/tasks`, {
        json: { input: 'Hello', stop: ['\n'] },
      });
      expect(reply.status).toBe(202);
      expect(reply.body).toEqual({ id: expect.any(String), agentId, status: 'queued' });
      const metrics = await api.call('GET', '/metrics');
      expect(metrics.body).toMatch(/^gooseherd_queue_waiting_jobs [1-9]/m);

      const task = await api.call('GET', `/v1/tasks/${reply.body.id}`);
      expect(task.status).toBe(200);
      expect(task.body).toMatchObject({
        id: reply.body.id,
        agentId,
        status: 'queued',
        output: '',
        tokensOut: 0,
      });

      await runTask(api, agentId, ['Hi', ' there']);
      const done = await api.call('GET', `/v1/tasks/${reply.body.id}`);
      expect(done.body).toMatchObject({ status: 'succeeded', output: 'Hi there', tokensOut: 2 });
      const cancel = await api.call('POST', `/v1/tasks/${reply.body.id}/cancel`);
      expect(cancel.status).toBe(202);
      expect(cancel.body).toEqual({ id: reply.body.id, status: 'succeeded' });
    });

    it('cancels a queued task at once', async () => {
      const first = await api.call('POST', `/v1/agents/${agentId}/tasks`, { json: { input: 'one' } });
      const second = await api.call('POST', `/v1/agents/${agentId}/tasks`, { json: { input: 'two' } });
      const cancel = await api.call('POST', `/v1/tasks/${second.body.id}/cancel`);
      expect(cancel.status).toBe(202);
      expect(cancel.body).toEqual({ id: second.body.id, status: 'cancelled' });
      expect((await api.call('GET', `/v1/tasks/${second.body.id}`)).body.status).toBe('cancelled');
      await api.call('POST', `/v1/tasks/${first.body.id}/cancel`);
    });

    it('answers 404 for an absent agent or task', async () => {
      expect((await api.call('POST', '/v1/agents/agt_nope/tasks', { json: { input: 'x' } })).status).toBe(
        404,
      );
      expect((await api.call('GET', '/v1/tasks/tsk_nope')).status).toBe(404);
      expect((await api.call('POST', '/v1/tasks/tsk_nope/cancel')).status).toBe(404);
      expect((await api.call('GET', `/v1/tasks/${'x'.repeat(200)}`)).status).toBe(404);
    });
  });

  describe('tenancy', () => {
    it("answers 404 for another tenant's agents and tasks, exactly as for absent ones", async () => {
      const { id: agentId } = await createAgent(KEYS.alpha);
      const task = await api.call('POST', `/v1/agents/${agentId}/tasks`, { json: { input: 'secret' } });
      const absent = await api.call('GET', '/v1/agents/agt_AAAAAAAAAAAAAAAAAAAAAA', { key: KEYS.beta });
      const checks: [string, string, unknown?][] = [
        ['GET', `/v1/agents/${agentId}`],
        ['DELETE', `/v1/agents/${agentId}`],
        ['POST', `/v1/agents/${agentId}/fork`],
        ['POST', `/v1/agents/${agentId}/tasks`, { input: 'x' }],
        ['GET', `/v1/tasks/${task.body.id}`],
        ['POST', `/v1/tasks/${task.body.id}/cancel`],
        ['GET', `/v1/tasks/${task.body.id}/events`],
      ];
      for (const [method, path, json] of checks) {
        const reply = await api.call(method, path, { key: KEYS.beta, json });
        expect([method, path, reply.status]).toEqual([method, path, 404]);
        expect(reply.body).toMatchObject({ type: absent.body.type, title: absent.body.title, status: 404 });
      }
      const list = await api.call('GET', '/v1/agents', { key: KEYS.beta });
      expect(list.body.items.map((a: { id: string }) => a.id)).not.toContain(agentId);
      expect((await api.call('GET', `/v1/tasks/${task.body.id}`)).body.status).toBe('queued');
      await api.call('DELETE', `/v1/agents/${agentId}`);
    });
  });

  describe('validation', () => {
    const s = (n: number) => 'x'.repeat(n);
    it.each([
      ['model', { model: '' }],
      ['model', { model: s(LIMITS.modelNameChars + 1) }],
      ['system', { system: s(LIMITS.systemChars + 1) }],
      ['system', { system: 42 }],
      ['sampling', { sampling: 'hot' }],
      ['sampling.temperature', { sampling: { temperature: 99 } }],
      ['sampling.topP', { sampling: { topP: 1.5 } }],
      ['sampling.topK', { sampling: { topK: 1.5 } }],
      ['sampling.presencePenalty', { sampling: { presencePenalty: -3 } }],
      ['sampling.frequencyPenalty', { sampling: { frequencyPenalty: 3 } }],
      ['sampling.penaltyDecay', { sampling: { penaltyDecay: 2 } }],
      ['sampling.seed', { sampling: { seed: -1 } }],
      ['sampling.logitBias.x', { sampling: { logitBias: { x: 1 } } }],
      ['sampling.logitBias.7', { sampling: { logitBias: { 7: 1000 } } }],
      ['sampling.mood', { sampling: { mood: 'happy' } }],
      ['colour', { colour: 'blue' }],
    ])('POST /v1/agents: 400 naming %s', async (field, json) => {
      const reply = await api.call('POST', '/v1/agents', { json });
      expect(reply.status).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(reply.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it.each([
      ['input', {}],
      ['input', { input: '' }],
      ['input', { input: s(LIMITS.inputChars + 1) }],
      ['maxTokens', { input: 'x', maxTokens: 0 }],
      ['maxTokens', { input: 'x', maxTokens: LIMITS.maxTokens + 1 }],
      ['maxTokens', { input: 'x', maxTokens: 'ten' }],
      ['stop', { input: 'x', stop: 'stop' }],
      ['stop', { input: 'x', stop: Array(LIMITS.stopStrings + 1).fill('a') }],
      ['stop.1', { input: 'x', stop: ['a', s(LIMITS.stopStringChars + 1)] }],
      ['sampling.topP', { input: 'x', sampling: { topP: -1 } }],
      ['body', ['not', 'an', 'object']],
      ['body', null],
    ])('POST /v1/agents/{id}/tasks: 400 naming %s', async (field, json) => {
      const reply = await api.call('POST', '/v1/agents/agt_AAAAAAAAAAAAAAAAAAAAAA/tasks', { json });
      expect(reply.status).toBe(400);
      expect(reply.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it.each([
      ['limit', '?limit=0'],
      ['limit', `?limit=${LIMITS.listPageSize + 1}`],
      ['limit', '?limit=ten'],
      ['sort', '?sort=name'],
    ])('GET /v1/agents: 400 naming %s', async (field, query) => {
      const reply = await api.call('GET', `/v1/agents${query}`);
      expect(reply.status).toBe(400);
      expect(reply.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('answers 400 problem for malformed JSON', async () => {
      const reply = await api.call('POST', '/v1/agents', {
        body: '{"model": ',
        headers: { 'content-type': 'application/json' },
      });
      expect(reply.status).toBe(400);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
      expect(reply.body.detail).toMatch(/malformed JSON/);
      expect(JSON.stringify(reply.body)).not.toMatch(/at .*\.js/);
    });

    it('answers 400 problem for a body that is not UTF-8', async () => {
      const body = Buffer.from([
        0x7b, 0x22, 0x73, 0x79, 0x73, 0x74, 0x65, 0x6d, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d,
      ]);
      const reply = await api.call('POST', '/v1/agents', {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(reply.status).toBe(400);
      expect(reply.body.detail).toMatch(/UTF-8/);
    });

    it('answers 415 problem for another content type', async () => {
      const reply = await api.call('POST', '/v1/agents', {
        body: 'model=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(reply.status).toBe(415);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
    });

    it('answers 413 problem for a body over the limit', async () => {
      const json = { input: 'x'.repeat(LIMITS.bodyBytes + 10) };
      const reply = await api.call('POST', '/v1/agents/agt_AAAAAAAAAAAAAAAAAAAAAA/tasks', { json });
      expect(reply.status).toBe(413);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
    });

    it('answers 413 for a chunked body over the limit', async () => {
      const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < 8) controller.enqueue(chunk);
          else controller.close();
        },
      });
      const res = await fetch(`${api.url}/v1/agents`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEYS.alpha}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      await res.text();
    });

    it('answers 404 problem for an unknown route', async () => {
      const reply = await api.call('GET', '/v1/nothing-here');
      expect(reply.status).toBe(404);
      expect(reply.headers.get('content-type')).toMatch(PROBLEM_JSON);
    });
  });
});
