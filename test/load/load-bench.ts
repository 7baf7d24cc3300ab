/**
 * Load benchmark: one API and one worker as real processes, autocannon against REST (GET an agent, GET a task,
 * POST a task, each cycling over many agents/tasks) at several connection counts, and a few hundred WebSocket
 * subscribers on running tasks. Prints a table and records JSON. Run: `npm run bench:load`.
 *
 *   --seconds N       duration of each REST step (default 10)
 *   --connections L   comma-separated connection counts per REST endpoint (default 8,32,128)
 *   --agents N        agents the REST phases cycle over (default 200)
 *   --sockets N       WebSocket subscribers (default 300)
 *   --tasks N         running tasks they subscribe to (default 30)
 *   --tokens N        tokens per subscribed task (default 256)
 *   --out FILE        where to write the JSON record (default test/load/results/load-<date>.json)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { exactLengthTask, GooseherdCluster, REPO_ROOT } from '@gooseherd/test-kit';
import {
  formatTable,
  inBatches,
  machine,
  restPhase,
  wsPhase,
  type RestPhase,
  type RestPhaseResult,
  type WsPhaseResult,
} from './load-runner';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '8,32,128' },
    agents: { type: 'string', default: '200' },
    sockets: { type: 'string', default: '300' },
    tasks: { type: 'string', default: '30' },
    tokens: { type: 'string', default: '256' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = args.connections.split(',').map(Number);
const AGENTS = Number(args.agents);
const SOCKETS = Number(args.sockets);
const TASKS = Number(args.tasks);
const TOKENS = Number(args.tokens);
const WORKER_CONCURRENCY = 64;

/** The highest rate of an endpoint's steps that had no error, no timeout and no non-2xx answer. */
function held(results: RestPhaseResult[]) {
  const out: Record<string, { reqPerS: number; connections: number; p50Ms: number; p99Ms: number }> = {};
  for (const r of results) {
    if (r.errors > 0 || r.timeouts > 0 || r.non2xx > 0) continue;
    if ((out[r.phase]?.reqPerS ?? -1) < r.reqPerS) {
      out[r.phase] = {
        reqPerS: r.reqPerS,
        connections: r.connections,
        p50Ms: r.latencyMs.p50,
        p99Ms: r.latencyMs.p99,
      };
    }
  }
  return out;
}

async function main(): Promise<void> {
  const loadBefore = os.loadavg()[0];
  const cluster = await GooseherdCluster.start({ workers: 1, workerConcurrency: WORKER_CONCURRENCY });
  const rest: RestPhaseResult[] = [];
  const ws: WsPhaseResult[] = [];
  try {
    const { alice } = cluster;
    const agents = await inBatches(AGENTS, 25, () => alice.createAgent());
    const finished: string[] = [];
    for (const a of agents.slice(0, 20)) finished.push((await alice.submitTask(a.id, exactLengthTask(8))).id);
    for (const id of finished) await alice.waitForSuccess(id, 60_000);

    const step = async (spec: Omit<RestPhase, 'connections' | 'durationS'>) => {
      for (const connections of CONNECTIONS) {
        const result = await restPhase(cluster, cluster.keys.alice, {
          ...spec,
          connections,
          durationS: SECONDS,
        });
        rest.push(result);
        console.log(
          `${result.phase} × ${connections}: ${result.reqPerS} req/s, p50 ${result.latencyMs.p50} ms, ` +
            `p99 ${result.latencyMs.p99} ms, non-2xx ${result.non2xx}, errors ${result.errors}`,
        );
      }
    };
    // A short warm-up (JIT, connection pools), not recorded.
    await restPhase(cluster, cluster.keys.alice, {
      phase: 'warm-up',
      method: 'GET',
      paths: [`/v1/agents/${agents[0].id}`],
      connections: 8,
      durationS: 2,
    });
    await step({
      phase: 'GET /v1/agents/{id}',
      method: 'GET',
      paths: agents.map((a) => `/v1/agents/${a.id}`),
    });
    await step({
      phase: 'GET /v1/tasks/{id}',
      method: 'GET',
      paths: finished.map((id) => `/v1/tasks/${id}`),
    });

    const subscribers = await wsPhase(cluster, {
      sockets: SOCKETS,
      tasks: TASKS,
      tokensPerTask: TOKENS,
      timeoutMs: 300_000,
    });
    ws.push(subscribers);
    console.log(formatTable([], ws));

    // Last: every accepted task is real work for the worker, which keeps running while the steps go on.
    await step({
      phase: 'POST /v1/agents/{id}/tasks',
      method: 'POST',
      paths: agents.map((a) => `/v1/agents/${a.id}/tasks`),
      body: JSON.stringify({ input: 'load', maxTokens: 1 }),
    });

    console.log(`\n${formatTable(rest, ws)}`);
    const record = {
      date: new Date().toISOString(),
      machine: machine(),
      // Other work on the machine skews the figures: the 1-minute load average before and after the run.
      loadAverage1m: { before: loadBefore, after: os.loadavg()[0] },
      settings: {
        api: 1,
        workers: 1,
        workerConcurrency: WORKER_CONCURRENCY,
        engineThreads: 1,
        secondsPerStep: SECONDS,
        connections: CONNECTIONS,
        agents: AGENTS,
        sockets: SOCKETS,
        tasks: TASKS,
        tokensPerTask: TOKENS,
        load: 'autocannon in the same process as the WebSocket clients, on the same machine as the cluster',
      },
      held: held(rest),
      rest,
      websocket: ws,
    };
    const out =
      args.out ?? path.join(REPO_ROOT, 'test/load/results', `load-${record.date.slice(0, 10)}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
    console.log(`recorded in ${path.relative(process.cwd(), out)}`);
    const failed = rest.some((r) => r.errors > 0 || r.non2xx > 0) || ws.some((w) => w.problems.length > 0);
    if (failed) process.exitCode = 1;
  } finally {
    await cluster.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
