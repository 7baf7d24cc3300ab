import * as net from 'node:net';
import { LIMITS, type AgentView, type ServerFrame } from '@gooseherd/contracts';
import { encodeState, readStateHeader, stateFloatCount } from '@gooseherd/engine';
import {
  describeExchange,
  EventSocket,
  exactLengthTask,
  rawRequest,
  useCluster,
  waitFor,
  type GooseherdCluster,
  type RawRequest,
  type RawResponse,
} from '@gooseherd/test-kit';
import { errorLogLines, survivalProblems } from './support/api-process';
import { whileBystanderRuns } from './support/bystander';
import { contractViolations, errorFields } from './support/problem-checks';

// Specific abuse, one case per test. Each runs while bob's task streams (a bystander), which must complete
// untouched: every event once and in order, streamed text equal to its output.

const WS_PER_CONNECTION = 256;
const WS_PER_KEY = 1024;

describe('abuse cases: refused cleanly, the processes stay up, other tenants are untouched', () => {
  const cluster = useCluster({ workers: 1 });
  let agent: AgentView;

  beforeAll(async () => {
    agent = await cluster().alice.createAgent();
  });

  afterEach(async () => {
    expect(await survivalProblems(cluster())).toEqual([]);
  });

  async function send(req: Omit<RawRequest, 'apiKey'>): Promise<RawResponse> {
    return rawRequest(cluster().baseUrl, { apiKey: cluster().keys.alice, ...req });
  }

  /** The answer follows the error contract, has `status`, and (when given) names `field`. */
  function expectRefusal(req: RawRequest, res: RawResponse, status: number, field?: string): void {
    const body = typeof req.body === 'string' ? safeParse(req.body) : undefined;
    const problems = contractViolations(res, { value: body, root: 'body', required: ['input'] });
    if (res.status !== status) problems.push(`expected ${status}`);
    if (field !== undefined && !errorFields(res).includes(field))
      problems.push(`errors do not name "${field}"`);
    if (problems.length > 0) throw new Error(`${problems.join('; ')}\n  ${describeExchange(req, res)}`);
  }

  const tasksPath = () => `/v1/agents/${agent.id}/tasks`;

  it('refuses oversized bodies with 413 (declared, chunked, a terabyte announced), the limit itself is parsed', async () => {
    await whileBystanderRuns(cluster(), async () => {
      const over = JSON.stringify({ input: 'x'.repeat(LIMITS.bodyBytes) });
      // Kept-alive connections: the API discards the rest of a refused upload, so the client reads the 413.
      // (With `Connection: close`, Node ends the socket right after the 413 and a client still uploading
      // megabytes mostly sees EPIPE instead: see README.md.)
      const fourMiB = Buffer.alloc(4 * 1024 * 1024, 0x20);
      for (const req of [
        { method: 'POST', path: '/v1/agents', body: JSON.stringify({ system: 's'.repeat(300 * 1024) }) },
        { method: 'POST', path: tasksPath(), body: over },
        { method: 'POST', path: tasksPath(), body: over, chunked: true },
        { method: 'POST', path: tasksPath(), body: fourMiB, keepAlive: true },
        { method: 'POST', path: tasksPath(), body: fourMiB, chunked: true, keepAlive: true },
      ]) {
        const res = await send(req);
        expectRefusal(req, res, 413);
        expect(res.ms).toBeLessThan(5_000);
      }
      // Exactly the limit is read and validated (400: input too long), one byte more is 413.
      const atLimit = (extra: number) => {
        const skeleton = JSON.stringify({ input: '' });
        return JSON.stringify({ input: 'y'.repeat(LIMITS.bodyBytes - skeleton.length + extra) });
      };
      const exact = { method: 'POST', path: tasksPath(), body: atLimit(0) };
      expect(Buffer.byteLength(exact.body)).toBe(LIMITS.bodyBytes);
      expectRefusal(exact, await send(exact), 400, 'input');
      const oneMore = { method: 'POST', path: tasksPath(), body: atLimit(1) };
      expectRefusal(oneMore, await send(oneMore), 413);

      // Content-Length: 1 TB, then nothing: answered at once from the headers.
      const answer = await rawExchange(
        cluster(),
        `POST ${tasksPath()} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cluster().keys.alice}\r\n` +
          `Content-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n{"input":`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toMatch(/content-type: application\/problem\+json/i);

      // 32 MiB, past the 16 MiB the API reads and discards after refusing: 413, or the connection cut.
      const huge = {
        method: 'POST',
        path: tasksPath(),
        body: Buffer.alloc(32 * 1024 * 1024, 0x20),
        keepAlive: true,
      };
      const outcome = await send(huge).then(
        (res) => `HTTP ${res.status}`,
        (err: Error) => err.message,
      );
      expect(outcome).toMatch(/HTTP 413|ECONNRESET|EPIPE|socket hang up/);
    });
  });

  it("answers headers over Node's 16 KiB limit with a 431 problem, and carries on", async () => {
    await whileBystanderRuns(cluster(), async () => {
      const req = { method: 'GET', path: `/v1/agents?cursor=${'c'.repeat(20 * 1024)}` };
      const res = await send(req);
      // Node's HTTP parser refuses it before the app sees the request; the API still answers a problem.
      expect(res.status).toBe(431);
      expect(res.contentType).toMatch(/application\/problem\+json/);
      expect(res.json).toMatchObject({ status: 431 });
      const big = { method: 'GET', path: '/v1/agents', headers: { 'x-padding': 'p'.repeat(20 * 1024) } };
      expect((await send(big)).status).toBe(431);
      expect((await cluster().alice.listAgents()).items.length).toBeGreaterThan(0);
    });
  });

  it('refuses WebSocket frames over 64 KiB by closing that connection only (1009)', async () => {
    await whileBystanderRuns(cluster(), async () => {
      const other = await cluster().openSocket('alice');
      const big = await cluster().openSocket('alice');
      big.send(JSON.stringify({ type: 'ping', pad: 'p'.repeat(65 * 1024) }));
      await waitFor(() => big.closed, { timeoutMs: 5_000, what: 'the close after a 65 KiB frame' });
      expect(big.closed?.code).toBe(1009);
      other.send({ type: 'ping' });
      await other.waitForFrame((f) => f.type === 'pong', {
        timeoutMs: 5_000,
        what: 'pong on the other socket',
      });
    });
  });

  it('refuses 100k-deep JSON quickly with 400 (no stack overflow), in REST bodies and WebSocket frames', async () => {
    const arrays = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const objects = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    await whileBystanderRuns(cluster(), async () => {
      const bodies: [string, string][] = [
        ['/v1/agents', arrays(100_000)],
        ['/v1/agents', `{"sampling":${arrays(100_000)}}`],
        ['/v1/agents', `{"sampling":{"logitBias":${objects(40_000)}}}`],
        [tasksPath(), `{"input":"x","stop":${arrays(100_000)}}`],
        [tasksPath(), `{"input":"x","unknown":${arrays(100_000)}}`],
        [tasksPath(), `{"input":${objects(40_000)}}`],
        [tasksPath(), arrays(100_000).slice(0, -1)],
      ];
      for (const [path, body] of bodies) {
        const req = { method: 'POST', path, body };
        const res = await send(req);
        if (
          res.status !== 400 ||
          res.ms > 3_000 ||
          contractViolations(res, { value: safeParse(body), root: 'body' }).length
        ) {
          throw new Error(`deep JSON: ${describeExchange(req, res, 120)} in ${Math.round(res.ms)} ms`);
        }
      }
      const socket = await cluster().openSocket('alice');
      const from = socket.received.length;
      socket.send(arrays(30_000));
      socket.send(`{"type":"subscribe","taskId":${arrays(30_000)}}`);
      await waitFor(() => socket.frames.slice(from).filter((f) => f.type === 'error').length >= 2, {
        timeoutMs: 5_000,
        what: 'two error frames',
      });
      const errors = socket.frames
        .slice(from)
        .filter((f): f is Extract<ServerFrame, { type: 'error' }> => f.type === 'error');
      expect(errors.map((e) => [e.code, e.field])).toEqual([
        ['invalid_frame', undefined],
        ['invalid_frame', 'taskId'],
      ]);
      expect(socket.closed).toBeUndefined();
    });
  });

  it('refuses invalid UTF-8 with 400 naming body, and non-UTF-8 charsets with 415', async () => {
    const broken: [string, number[]][] = [
      ['a lone continuation byte', [0x80]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['an encoded surrogate', [0xed, 0xa0, 0x80]],
      ['a truncated sequence', [0xe2, 0x82]],
      ['a code point past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
      ['0xFF', [0xff]],
    ];
    await whileBystanderRuns(cluster(), async () => {
      for (const [what, bytes] of broken) {
        for (const path of ['/v1/agents', tasksPath()]) {
          const key = path === '/v1/agents' ? 'system' : 'input';
          const body = Buffer.concat([
            Buffer.from(`{"${key}":"ok `),
            Buffer.from(bytes),
            Buffer.from(' ok"}'),
          ]);
          const req = { method: 'POST', path, body };
          const res = await send(req);
          if (res.status !== 400 || !errorFields(res).includes('body') || !/UTF-8/.test(res.text)) {
            throw new Error(`invalid UTF-8 (${what}): ${describeExchange(req, res)}`);
          }
        }
      }
      const latin1 = {
        method: 'POST',
        path: tasksPath(),
        body: Buffer.from('{"input":"caf\xe9"}', 'latin1'),
        headers: { 'content-type': 'application/json; charset=iso-8859-1' },
      };
      expectRefusal(latin1, await send(latin1), 415);
    });
  });

  it('refuses huge and malformed maxTokens with 400 naming maxTokens; the largest allowed is accepted', async () => {
    await whileBystanderRuns(cluster(), async () => {
      for (const maxTokens of [LIMITS.maxTokens + 1, 1e9, 2 ** 53, 1e308, -1, 0, 1.5, '100', null, [1], {}]) {
        const req = { method: 'POST', path: tasksPath(), body: JSON.stringify({ input: 'hi', maxTokens }) };
        expectRefusal(req, await send(req), 400, 'maxTokens');
      }
      // The literal 1e999 is Infinity to JSON.parse.
      const infinite = { method: 'POST', path: tasksPath(), body: '{"input":"hi","maxTokens":1e999}' };
      expectRefusal(infinite, await send(infinite), 400, 'maxTokens');
      const { alice } = cluster();
      const largest = await alice.submitTask(agent.id, { input: 'hi', maxTokens: LIMITS.maxTokens });
      await alice.cancelTask(largest.id);
      await alice.waitForTask(largest.id, { timeoutMs: 30_000 });
    });
  });

  it('refuses unknown models with 422 naming model (and malformed names with 400)', async () => {
    await whileBystanderRuns(cluster(), async () => {
      for (const model of [
        'gpt-4',
        agent.model.toUpperCase(),
        `${agent.model} `,
        `${agent.model}-v2`,
        'm'.repeat(128),
      ]) {
        const req = { method: 'POST', path: '/v1/agents', body: JSON.stringify({ model }) };
        expectRefusal(req, await send(req), 422, 'model');
      }
      for (const model of ['', 'm'.repeat(129), 7, null]) {
        const req = { method: 'POST', path: '/v1/agents', body: JSON.stringify({ model }) };
        expectRefusal(req, await send(req), 400, 'model');
      }
      expect((await cluster().alice.createAgent({ model: agent.model })).model).toBe(agent.model);
    });
  });

  it('drops (does not refuse) a "__proto__" logitBias key, with no effect on other agents', async () => {
    // zod's record skips a `__proto__` key instead of reporting it; this pins that it is at least harmless.
    await whileBystanderRuns(cluster(), async () => {
      const { alice } = cluster();
      const req = {
        method: 'POST',
        path: '/v1/agents',
        body: '{"sampling":{"logitBias":{"__proto__":{"polluted":true},"7":1}}}',
      };
      const res = await send(req);
      expect(res.status).toBe(201);
      const created = res.json as AgentView;
      expect(created.sampling?.logitBias).toEqual({ '7': 1 });
      const plain = await alice.createAgent();
      expect(plain.sampling).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      const task = await alice.submitTask(created.id, exactLengthTask(4));
      expect((await alice.waitForSuccess(task.id, 30_000)).tokensOut).toBe(4);
    });
  });

  describe('a state blob the worker cannot use', () => {
    /** Runs one task so the agent has a stored state, then overwrites that state with `replace(blob)`. */
    async function agentWithState(replace: (blob: Buffer) => Buffer): Promise<AgentView> {
      const c = cluster();
      const own = await c.alice.createAgent();
      const first = await c.alice.submitTask(own.id, exactLengthTask(4));
      await c.alice.waitForSuccess(first.id, 30_000);
      const key = `${c.settings.prefix}:agent:${own.id}:state`;
      const blob = await c.redis.redis().getBuffer(key);
      if (!blob) throw new Error(`no state at ${key} after a finished task`);
      await c.redis.redis().set(key, replace(blob));
      return own;
    }

    const foreignModel = (blob: Buffer) => {
      const header = readStateHeader(blob);
      const fingerprint = header.fingerprint === 'ab'.repeat(32) ? 'cd'.repeat(32) : 'ab'.repeat(32);
      return Buffer.from(
        encodeState({
          config: header.config,
          fingerprint,
          tokensConsumed: header.tokensConsumed,
          data: new Float32Array(stateFloatCount(header.config)),
        }),
      );
    };
    const otherShape = (blob: Buffer) => {
      const { config, fingerprint } = readStateHeader(blob);
      const smaller = { ...config, nLayer: config.nLayer > 1 ? config.nLayer - 1 : 2 };
      const data = new Float32Array(stateFloatCount(smaller));
      return Buffer.from(encodeState({ config: smaller, fingerprint, tokensConsumed: 9, data }));
    };
    const damaged = (blob: Buffer) => {
      const copy = Buffer.from(blob);
      copy[copy.length >> 1] ^= 0xff;
      return copy;
    };

    it.each([
      [
        'of another model (same shape, other fingerprint)',
        foreignModel,
        /state was saved for model (ab|cd){32} but the loaded model is [0-9a-f]{64}/,
      ],
      [
        "with the model's fingerprint but other dimensions",
        otherShape,
        /do not match the model's .*differ: nLayer/,
      ],
      ['damaged (one byte flipped)', damaged, /state blob is corrupted: CRC-32/],
    ])(
      'a state blob %s fails the task naming the problem; the worker stays up and other work goes on',
      async (_what, replace, message) => {
        const c = cluster();
        const workerPid = c.workers[0].pid;
        const workerErrorsBefore = errorLogLines(c.workers[0]).length;
        await whileBystanderRuns(c, async () => {
          const poisoned = await agentWithState(replace);
          const socket = await c.openSocket('alice');
          const task = await c.alice.submitTask(poisoned.id, exactLengthTask(8));
          await socket.subscribe({ taskId: task.id });
          const final = await socket.waitForFinalEvent(task.id, 30_000);
          const record = await c.alice.getTask(task.id);
          expect({ kind: final.kind, status: record.status }).toEqual({ kind: 'failed', status: 'failed' });
          expect(record.error).toMatch(/stored state cannot be used/);
          expect(record.error).toMatch(message);
          expect((final.data as { error: string }).error).toBe(record.error);

          // The same tenant's healthy agent, and the same worker, carry on.
          const healthy = await c.alice.submitTask(agent.id, exactLengthTask(16));
          expect((await c.alice.waitForSuccess(healthy.id, 30_000)).tokensOut).toBe(16);
        });
        expect(c.workers[0].running).toBe(true);
        expect(c.workers[0].pid).toBe(workerPid);
        // A refused state is a task failure, not a crash of the segment (no error-level stack in the worker log).
        expect(errorLogLines(c.workers[0]).slice(workerErrorsBefore)).toEqual([]);
      },
    );
  });

  it('refuses a flood of subscriptions past the caps with too_many_subscriptions; bob subscribes and streams', async () => {
    const c = cluster();
    const { alice } = c;
    const targets: string[] = [];
    for (let i = 0; i < WS_PER_CONNECTION; i += 32) {
      const batch = await Promise.all(Array.from({ length: 32 }, () => alice.createAgent()));
      targets.push(...batch.map((a) => a.id));
    }
    const extraTask = (await alice.submitTask(agent.id, exactLengthTask(1))).id;

    await whileBystanderRuns(c, async () => {
      // Four connections fill the key's cap (4 × 256 = 1024), each to its own cap.
      const fillers = await Promise.all(
        Array.from({ length: WS_PER_KEY / WS_PER_CONNECTION }, () => c.openSocket('alice')),
      );
      const answers = await Promise.all(
        fillers.map((s) =>
          subscribeAll(
            s,
            targets.map((id) => ({ agentId: id })),
          ),
        ),
      );
      expect(answers.flat().filter((f) => f.type !== 'subscribed')).toEqual([]);

      // Past the connection cap: the 257th subscription on a full connection.
      expect(await fillers[0].subscribe({ taskId: extraTask })).toMatchObject({
        type: 'error',
        code: 'too_many_subscriptions',
        field: 'taskId',
        message: expect.stringContaining(String(WS_PER_CONNECTION)),
      });

      // Past the key cap: twenty more connections, each trying five subscriptions, are all refused and stay open.
      const late = await Promise.all(Array.from({ length: 20 }, () => c.openSocket('alice')));
      const refused = await Promise.all(
        late.map((s) =>
          subscribeAll(
            s,
            targets.slice(0, 5).map((id) => ({ agentId: id })),
          ),
        ),
      );
      for (const frame of refused.flat()) {
        expect(frame).toMatchObject({ type: 'error', code: 'too_many_subscriptions', field: 'agentId' });
        expect((frame as { message: string }).message).toContain(String(WS_PER_KEY));
      }
      expect(late.filter((s) => s.closed)).toEqual([]);

      // Another tenant is not capped by alice's subscriptions: bob subscribes and streams a new task.
      const bobAgent = await c.bob.createAgent();
      const bobSocket = await c.openSocket('bob');
      const bobTask = await c.bob.submitTask(bobAgent.id, exactLengthTask(24));
      expect(await bobSocket.subscribe({ taskId: bobTask.id })).toMatchObject({ type: 'subscribed' });
      await bobSocket.waitForFinalEvent(bobTask.id, 60_000);

      // Closing a full connection gives its 256 subscriptions back to the key.
      await fillers[0].close();
      await waitFor(async () => (await late[0].subscribe({ agentId: targets[0] })).type === 'subscribed', {
        timeoutMs: 5_000,
        what: 'a subscription to succeed once a full connection closed',
      });
    });
  });

  // A logitBias key must name a token: past the largest vocabulary the API refuses it; past this model's
  // smaller vocabulary the worker fails the task with a message, and the agent's next task runs normally.
  it("refuses a logitBias token id past any vocabulary, and fails a task whose id is past this model's", async () => {
    const { alice } = cluster();
    const own = await alice.createAgent();
    const refused = await send({
      method: 'POST',
      path: `/v1/agents/${own.id}/tasks`,
      body: JSON.stringify({ input: 'hi', maxTokens: 4, sampling: { logitBias: { '999999': 1 } } }),
    });
    expect(refused.status).toBe(400);
    expect(errorFields(refused)).toContain('sampling.logitBias.999999');

    const accepted = await alice.submitTask(own.id, {
      input: 'hi',
      maxTokens: 4,
      sampling: { logitBias: { '60000': 1 } },
    });
    const failed = await alice.waitForTask(accepted.id, { timeoutMs: 30_000 });
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.error).toMatch(/sampling\.logitBias: token 60000 is not in this model's vocabulary/);

    const next = await alice.submitTask(own.id, { input: 'hi again', maxTokens: 4 });
    expect((await alice.waitForTask(next.id, { timeoutMs: 30_000 })).status).toBe('succeeded');
  });
});

async function subscribeAll(socket: EventSocket, targets: ({ taskId: string } | { agentId: string })[]) {
  const answers: ServerFrame[] = [];
  for (const target of targets) answers.push(await socket.subscribe(target));
  return answers;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Writes raw bytes on a fresh TCP connection and returns what the server sent back before closing (≤ 5 s). */
function rawExchange(cluster: GooseherdCluster, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(cluster.apiPort, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), 5_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      if (Buffer.concat(chunks).includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(request);
  });
}
