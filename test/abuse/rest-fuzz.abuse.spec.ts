import fc from 'fast-check';
import { parse as parseQuery } from 'node:querystring';
import type { AgentView } from '@gooseherd/contracts';
import {
  describeExchange,
  rawRequest,
  useCluster,
  type RawRequest,
  type RawResponse,
} from '@gooseherd/test-kit';
import { survivalProblems } from './support/api-process';
import {
  agentMutation,
  anyJsonText,
  contentTypes,
  junkBytes,
  junkIdSegment,
  junkListQuery,
  runs,
  taskMutation,
  validCreateAgent,
  validCreateTask,
  validListQuery,
  type Mutation,
} from './support/arbitraries';
import { contractViolations, errorFields, type SentInput } from './support/problem-checks';

// Property-based fuzzing of every REST input (bodies, path ids, query strings) against the real API process.
// No worker runs: these properties are about the API's edge, and accepted tasks simply stay queued.

const TASK_REQUIRED = ['input'] as const;

describe('REST fuzzing against the API process', () => {
  const cluster = useCluster({ workers: 0, env: { GOOSEHERD_MAX_AGENTS_PER_TENANT: '1000000' } });
  let agent: AgentView;
  let taskId: string;
  /** Every status the API answered in this file, counted (printed at the end as the run's summary). */
  const statuses = new Map<number, number>();

  beforeAll(async () => {
    const { alice } = cluster();
    agent = await alice.createAgent();
    taskId = (await alice.submitTask(agent.id, { input: 'queued forever: no worker runs here' })).id;
  });

  afterAll(() => {
    const summary = [...statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`);
    process.stdout.write(
      `\nREST fuzz: ${[...statuses.values()].reduce((a, b) => a + b, 0)} requests, ${summary.join(' ')}\n`,
    );
  });

  async function send(req: Omit<RawRequest, 'apiKey'> & { apiKey?: string }): Promise<RawResponse> {
    const res = await rawRequest(cluster().baseUrl, { apiKey: cluster().keys.alice, ...req });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    return res;
  }

  /** Throws (failing the property with the exchange described) when the answer breaks the error contract. */
  function expectContract(req: RawRequest, res: RawResponse, sent: SentInput, extra: string[] = []): void {
    const problems = [...contractViolations(res, sent), ...extra];
    if (problems.length > 0) throw new Error(`${problems.join('; ')}\n  ${describeExchange(req, res)}`);
  }

  const postJson = (path: string, body: string | Buffer, headers?: Record<string, string>): RawRequest => ({
    method: 'POST',
    path,
    body,
    headers,
  });

  const tasksPath = () => `/v1/agents/${agent.id}/tasks`;

  it('POST /v1/agents: every valid body is created (201)', async () => {
    await fc.assert(
      fc.asyncProperty(validCreateAgent(agent.model), async (body) => {
        const req = postJson('/v1/agents', JSON.stringify(body));
        const res = await send(req);
        expectContract(req, res, { value: body, root: 'body' }, res.status === 201 ? [] : ['expected 201']);
      }),
      { numRuns: runs(150) },
    );
  });

  it('POST /v1/agents/{id}/tasks: every valid body is accepted (202, queued)', async () => {
    await fc.assert(
      fc.asyncProperty(validCreateTask(), async (body) => {
        const req = postJson(tasksPath(), JSON.stringify(body));
        const res = await send(req);
        const ok = res.status === 202 && (res.json as { status?: string })?.status === 'queued';
        expectContract(req, res, { value: body, root: 'body' }, ok ? [] : ['expected 202 queued']);
      }),
      { numRuns: runs(150) },
    );
  });

  /** A valid body with one field mutated: the answer must be `mutation.status` naming `mutation.field`. */
  async function checkMutation(
    path: string,
    base: Record<string, unknown>,
    mutation: Mutation,
  ): Promise<void> {
    const body = mutation.apply(base);
    const req = postJson(path, JSON.stringify(body));
    const res = await send(req);
    const extra: string[] = [];
    if (res.status !== mutation.status) extra.push(`expected ${mutation.status} for ${mutation.describe}`);
    else if (!errorFields(res).includes(mutation.field)) {
      extra.push(`errors do not name "${mutation.field}" (${mutation.describe})`);
    }
    expectContract(req, res, { value: body, root: 'body', required: TASK_REQUIRED }, extra);
  }

  it('POST /v1/agents: a valid body with one field mutated is refused naming that field (400; 422 model)', async () => {
    await fc.assert(
      fc.asyncProperty(validCreateAgent(agent.model), agentMutation(agent.model), (base, mutation) =>
        checkMutation('/v1/agents', base, mutation),
      ),
      { numRuns: runs(300) },
    );
  });

  it('POST /v1/agents/{id}/tasks: a valid body with one field mutated is refused naming that field (400)', async () => {
    await fc.assert(
      fc.asyncProperty(validCreateTask(), taskMutation(), (base, mutation) =>
        checkMutation(tasksPath(), base, mutation),
      ),
      { numRuns: runs(300) },
    );
  });

  it('POST bodies: arbitrary JSON values never cause a 5xx; errors name fields of the body', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), anyJsonText, async (toTasks, text) => {
        const req = postJson(toTasks ? tasksPath() : '/v1/agents', text);
        const res = await send(req);
        const expected = toTasks ? [202, 400] : [201, 400, 422];
        expectContract(
          req,
          res,
          { value: JSON.parse(text), root: 'body', required: toTasks ? TASK_REQUIRED : [] },
          expected.includes(res.status) ? [] : [`expected one of ${expected}`],
        );
      }),
      { numRuns: runs(300) },
    );
  });

  it('POST bodies: random bytes and any Content-Type never cause a 5xx; broken bodies are 400 naming body, 415', async () => {
    const bodies = fc.oneof(
      junkBytes(validCreateTask({ inputChars: 200 })),
      anyJsonText.map((t) => Buffer.from(t)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.boolean(),
        bodies,
        fc.option(contentTypes, { nil: undefined }),
        async (toTasks, bytes, type) => {
          const req = postJson(
            toTasks ? tasksPath() : '/v1/agents',
            bytes,
            type === undefined ? undefined : { 'content-type': type },
          );
          const res = await send(req);
          let value: unknown;
          try {
            value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
          } catch {
            value = undefined;
          }
          const extra: string[] = [];
          if (![201, 202, 400, 413, 415, 422].includes(res.status)) extra.push('unexpected status');
          if (res.status === 400 && value === undefined && !errorFields(res).includes('body')) {
            extra.push('a body that is not UTF-8 JSON must be refused naming "body"');
          }
          expectContract(req, res, { value, root: 'body', required: toTasks ? TASK_REQUIRED : [] }, extra);
        },
      ),
      { numRuns: runs(300) },
    );
  });

  it('fork, cancel, get and delete with junk ids answer 4xx problem+json (400/404), never 5xx', async () => {
    const routes = fc.constantFrom(
      { method: 'POST', path: (id: string) => `/v1/agents/${id}/fork` },
      { method: 'POST', path: (id: string) => `/v1/tasks/${id}/cancel` },
      { method: 'POST', path: (id: string) => `/v1/agents/${id}/tasks` },
      { method: 'GET', path: (id: string) => `/v1/agents/${id}` },
      { method: 'GET', path: (id: string) => `/v1/tasks/${id}` },
      { method: 'DELETE', path: (id: string) => `/v1/agents/${id}` },
      { method: 'GET', path: (id: string) => `/v1/tasks/${id}/events` },
    );
    await fc.assert(
      fc.asyncProperty(routes, junkIdSegment, async (route, id) => {
        const path = route.path(id);
        const req: RawRequest = {
          method: route.method,
          path,
          body: path.endsWith('/tasks') ? JSON.stringify({ input: 'hello' }) : undefined,
          timeoutMs: 5_000,
        };
        const res = await send(req);
        // An empty id can turn `GET /v1/agents/` into the list (200); any other success would be a leak.
        const listing = route.method === 'GET' && /^\/v1\/agents\/?$/.test(path);
        const extra = res.status < 400 && !listing ? ['a junk id was not refused'] : [];
        expectContract(req, res, { value: undefined, root: 'body' }, extra);
      }),
      { numRuns: runs(300) },
    );
  });

  it('fork and cancel of real ids still work amid the junk (201, 202)', async () => {
    const { alice } = cluster();
    expect((await alice.forkAgent(agent.id)).id).not.toBe(agent.id);
    expect(await alice.expect(202, 'POST', `/v1/tasks/${taskId}/cancel`)).toMatchObject({ id: taskId });
  });

  it('GET /v1/agents: valid query strings answer 200, junk ones 200 or 400 naming a query key', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(validListQuery, junkListQuery), async (query) => {
        const req: RawRequest = { method: 'GET', path: `/v1/agents?${query}` };
        const res = await send(req);
        const parsed = parseQuery(query);
        const rawKeys = query.split('&').map((pair) => pair.split('=')[0]);
        expectContract(
          req,
          res,
          { value: parsed, root: 'query', aliases: rawKeys },
          [200, 400].includes(res.status) ? [] : ['expected 200 or 400'],
        );
      }),
      { numRuns: runs(300) },
    );
    await fc.assert(
      fc.asyncProperty(validListQuery, async (query) => {
        const req: RawRequest = { method: 'GET', path: `/v1/agents?${query}` };
        const res = await send(req);
        expectContract(
          req,
          res,
          { value: parseQuery(query), root: 'query' },
          res.status === 200 ? [] : ['expected 200'],
        );
      }),
      { numRuns: runs(100) },
    );
  });

  it('the API survived it all: process alive, /healthz 200, no error-level log line', async () => {
    expect(await survivalProblems(cluster(), { quietApi: true })).toEqual([]);
    expect(await cluster().alice.getAgent(agent.id)).toMatchObject({ id: agent.id });
  });
});
