import type { AgentView } from '@gooseherd/contracts';
import { exactLengthTask, useCluster } from '@gooseherd/test-kit';
import {
  formatTable,
  inBatches,
  restPhase,
  wsPhase,
  type RestPhaseResult,
  type WsPhaseResult,
} from './load-runner';

// A few seconds of the load benchmark (`npm run bench:load`): every request answered 2xx, no connection
// errors, and every WebSocket subscriber receives its task's whole log exactly once. Longer with
// GOOSEHERD_E2E_LONG=1.

const LONG = process.env.GOOSEHERD_E2E_LONG === '1';
const SECONDS = LONG ? 10 : 2;

describe('load smoke: REST under autocannon and WebSocket fan-out, zero errors', () => {
  const cluster = useCluster({ workers: 1 });
  let agents: AgentView[];
  let taskIds: string[];
  const rest: RestPhaseResult[] = [];
  const ws: WsPhaseResult[] = [];

  beforeAll(async () => {
    const { alice } = cluster();
    agents = await inBatches(LONG ? 200 : 40, 20, () => alice.createAgent());
    taskIds = [];
    for (const a of agents.slice(0, 10)) {
      const task = await alice.submitTask(a.id, exactLengthTask(4));
      taskIds.push(task.id);
    }
    for (const id of taskIds) await alice.waitForSuccess(id, 30_000);
  });

  afterAll(() => {
    process.stdout.write(`\nload smoke:\n${formatTable(rest, ws)}\n`);
  });

  function expectClean(result: RestPhaseResult): void {
    expect({
      phase: result.phase,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
    }).toEqual({
      phase: result.phase,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
    });
    expect(result.requests).toBeGreaterThan(0);
  }

  it('GET /v1/agents/{id} on many agents: all 200', async () => {
    const result = await restPhase(cluster(), cluster().keys.alice, {
      phase: 'GET /v1/agents/{id}',
      method: 'GET',
      paths: agents.map((a) => `/v1/agents/${a.id}`),
      connections: 8,
      durationS: SECONDS,
    });
    rest.push(result);
    expectClean(result);
    expect(Object.keys(result.statusCodes)).toEqual(['200']);
  });

  it('GET /v1/tasks/{id}: all 200', async () => {
    const result = await restPhase(cluster(), cluster().keys.alice, {
      phase: 'GET /v1/tasks/{id}',
      method: 'GET',
      paths: taskIds.map((id) => `/v1/tasks/${id}`),
      connections: 8,
      durationS: SECONDS,
    });
    rest.push(result);
    expectClean(result);
  });

  it('WebSocket subscribers on running tasks: every event once, in order, streamed text = output', async () => {
    const result = await wsPhase(cluster(), {
      sockets: LONG ? 300 : 60,
      tasks: LONG ? 30 : 6,
      tokensPerTask: LONG ? 256 : 64,
      timeoutMs: 120_000,
    });
    ws.push(result);
    expect({
      problems: result.problems,
      dropped: result.dropped,
      duplicates: result.duplicates,
      outputMismatches: result.outputMismatches,
      closedEarly: result.closedEarly,
    }).toEqual({ problems: [], dropped: 0, duplicates: 0, outputMismatches: 0, closedEarly: 0 });
    expect(result.eventFrames).toBeGreaterThan(0);
  });

  it('POST /v1/agents/{id}/tasks on many agents: all 202', async () => {
    const result = await restPhase(cluster(), cluster().keys.alice, {
      phase: 'POST /v1/agents/{id}/tasks',
      method: 'POST',
      paths: agents.map((a) => `/v1/agents/${a.id}/tasks`),
      body: JSON.stringify({ input: 'load', maxTokens: 1 }),
      connections: 8,
      durationS: SECONDS,
    });
    rest.push(result);
    expectClean(result);
    expect(Object.keys(result.statusCodes)).toEqual(['202']);
  });
});
