import { startTestApi, type TestApi } from './test-api.js';

describe('request bodies', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startTestApi('jsonbody');
  });
  afterAll(() => api.close());

  it.each(['\t', ' ', '\n\n'])(
    'refuses a whitespace-only JSON body %j with 400 naming body',
    async (body) => {
      const agent = (await api.call('POST', '/v1/agents', { json: {} })).body;
      const reply = await api.call('POST', `/v1/agents/${agent.id}/tasks`, {
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect(reply.status).toBe(400);
      expect(reply.body.errors).toEqual([expect.objectContaining({ field: 'body' })]);
    },
  );
});
