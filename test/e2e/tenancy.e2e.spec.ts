import type { AgentView, TaskView } from '@gooseherd/contracts';
import {
  ApiClient,
  EventSocket,
  exactLengthTask,
  readTaskEventStream,
  sleep,
  useCluster,
} from '@gooseherd/test-kit';

// Tenants are invisible to each other: another tenant's ids answer exactly like ids that do not exist.

const PROBLEM_JSON = /^application\/problem\+json/;

describe('tenant isolation', () => {
  const cluster = useCluster({ workers: 1 });
  let agent: AgentView;
  let task: TaskView;

  beforeAll(async () => {
    const { alice } = cluster();
    agent = await alice.createAgent();
    const accepted = await alice.submitTask(agent.id, exactLengthTask(16));
    task = await alice.waitForSuccess(accepted.id, 60_000);
  });

  it("answers 404 to bob for alice's agent, whatever he asks of it", async () => {
    const { bob } = cluster();
    const attempts: [string, string, unknown?][] = [
      ['GET', `/v1/agents/${agent.id}`],
      ['DELETE', `/v1/agents/${agent.id}`],
      ['POST', `/v1/agents/${agent.id}/tasks`, exactLengthTask(4)],
      ['POST', `/v1/agents/${agent.id}/fork`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await bob.request(method, path, body);
      expect({ request: `${method} ${path}`, status: res.status }).toEqual({
        request: `${method} ${path}`,
        status: 404,
      });
      expect(res.contentType).toMatch(PROBLEM_JSON);
    }
    expect(await cluster().alice.getAgent(agent.id)).toMatchObject({ id: agent.id });
  });

  it("answers 404 to bob for alice's task, its cancel and its event stream", async () => {
    const c = cluster();
    for (const [method, path] of [
      ['GET', `/v1/tasks/${task.id}`],
      ['POST', `/v1/tasks/${task.id}/cancel`],
    ]) {
      const res = await c.bob.request(method, path);
      expect({ request: `${method} ${path}`, status: res.status }).toEqual({
        request: `${method} ${path}`,
        status: 404,
      });
      expect(res.contentType).toMatch(PROBLEM_JSON);
    }
    const events = await readTaskEventStream(c.baseUrl, c.keys.bob, task.id, { timeoutMs: 5_000 });
    expect(events.status).toBe(404);
    expect(events.messages).toEqual([]);
  });

  it("does not list alice's agents to bob", async () => {
    const { alice, bob } = cluster();
    const own = await bob.createAgent();
    const listed = (await bob.listAgents()).items.map((a) => a.id);
    expect(listed).toContain(own.id);
    expect(listed).not.toContain(agent.id);
    expect((await alice.listAgents()).items.map((a) => a.id)).not.toContain(own.id);
  });

  it("refuses bob's WebSocket subscriptions to alice's task and agent with not_found, and keeps his connection", async () => {
    const c = cluster();
    const socket = await c.openSocket('bob');
    expect(await socket.subscribe({ taskId: task.id })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await socket.subscribe({ agentId: agent.id })).toMatchObject({ type: 'error', code: 'not_found' });

    const own = await c.bob.createAgent();
    expect(await socket.subscribe({ agentId: own.id })).toMatchObject({
      type: 'subscribed',
      agentId: own.id,
    });

    // Alice's new work reaches none of bob's frames.
    const next = await c.alice.submitTask(agent.id, exactLengthTask(8));
    await c.alice.waitForSuccess(next.id, 60_000);
    await sleep(300);
    expect(socket.events().filter((e) => e.agentId === agent.id)).toEqual([]);
  });

  it('refuses requests without a valid key with 401', async () => {
    const c = cluster();
    const anonymous = await c.anonymous.request('GET', '/v1/agents');
    expect(anonymous.status).toBe(401);
    expect(anonymous.contentType).toMatch(PROBLEM_JSON);
    const stranger = new ApiClient(c.baseUrl, 'not-a-key-of-anyone-at-all');
    const wrongKey = await stranger.request('GET', `/v1/agents/${agent.id}`);
    expect(wrongKey.status).toBe(401);

    // A WebSocket with a wrong token never gets alice's events: refused at the upgrade, or refused when it
    // subscribes.
    let socket: EventSocket | undefined;
    try {
      socket = await EventSocket.open(c.wsUrl, 'not-a-key-of-anyone-at-all');
    } catch (err) {
      expect(String(err)).toMatch(/401|403|closed|refused/i);
      return;
    }
    try {
      const answer = await socket
        .subscribe({ taskId: task.id })
        .catch((err: unknown) => ({ type: 'closed', detail: String(err) }));
      expect(answer.type).not.toBe('subscribed');
      expect(socket.events()).toEqual([]);
    } finally {
      await socket.close();
    }
  });
});
