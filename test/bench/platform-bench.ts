/**
 * Platform benchmark: submit → first-token latency with 1 and 50 concurrent agents, and the platform's
 * aggregate decode rate against the engine's raw batched rate on the same machine, measured side by side
 * (interleaved rounds, medians). Run: `npm run bench:platform` (compiled by `npm run build`; plain node, since
 * a TypeScript loader slows the engine loop measured in this process).
 *
 *   --rounds N      interleaved rounds of the throughput comparison (default 5)
 *   --agents N      concurrent agents in the throughput rounds (default 16)
 *   --tokens N      tokens each agent generates per throughput round (default 256)
 *   --out FILE      where to write the JSON record (default test/bench/results/platform-<date>.json)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { BatchedDecoder, loadModel } from '@gooseherd/agent-runtime';
import { GooseherdCluster, REPO_ROOT, SHARED_DATA_DIR, type EventSocket } from '@gooseherd/test-kit';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    agents: { type: 'string', default: '16' },
    tokens: { type: 'string', default: '256' },
    out: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const AGENTS = Number(args.agents);
const TOKENS = Number(args.tokens);
const THREADS = os.cpus().length;
const NO_EOT = { temperature: 1, logitBias: { '0': -100 } };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** Engine alone: `agents` coroutines stepping through one BatchedDecoder, as a worker batches them. */
async function engineRate(decoder: BatchedDecoder, agents: number, tokens: number): Promise<number> {
  const { engine } = decoder;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: agents }, async (_, a) => {
      let state = engine.zeroState(1);
      let token = 1 + a;
      for (let i = 0; i < tokens; i++) {
        const out = await decoder.step(state, token);
        state = out.state;
        token = 1 + ((token * 31 + i) % 256);
      }
    }),
  );
  return (agents * tokens) / ((performance.now() - started) / 1000);
}

/**
 * Platform: `agents` agents each run one task of `tokens` tokens; aggregate rate over the span from the first
 * task's start to the last one's end (server clock). Completion is watched on the WebSocket, not by polling,
 * so the bench adds no load of its own while the tasks run.
 */
async function platformRate(
  cluster: GooseherdCluster,
  socket: EventSocket,
  agents: number,
  tokens: number,
): Promise<number> {
  const client = cluster.alice;
  const created = await Promise.all(Array.from({ length: agents }, () => client.createAgent({})));
  for (const a of created) await socket.subscribe({ agentId: a.id });
  const since = socket.received.length;
  const tasks = await Promise.all(
    created.map((a) =>
      client.submitTask(a.id, { input: 'Count the geese.', maxTokens: tokens, stop: [], sampling: NO_EOT }),
    ),
  );
  await Promise.all(
    tasks.map((t) =>
      socket.waitForFrame((f) => f.type === 'event' && f.taskId === t.id && f.kind === 'completed', {
        timeoutMs: 600_000,
        what: `task ${t.id} to complete`,
        fromIndex: since,
      }),
    ),
  );
  const done = await Promise.all(tasks.map((t) => client.getTask(t.id)));
  let first = Infinity;
  let last = 0;
  let total = 0;
  for (const t of done) {
    first = Math.min(first, Date.parse(t.startedAt!));
    last = Math.max(last, Date.parse(t.finishedAt!));
    total += t.tokensOut;
  }
  for (const a of created) socket.send({ type: 'unsubscribe', agentId: a.id });
  await Promise.all(created.map((a) => client.request('DELETE', `/v1/agents/${a.id}`)));
  return total / ((last - first) / 1000);
}

/** Submit → first token frame on a WebSocket already subscribed to the agent, for `agents` at once. */
async function firstTokenLatencies(
  cluster: GooseherdCluster,
  socket: EventSocket,
  agents: number,
): Promise<number[]> {
  const client = cluster.alice;
  const created = await Promise.all(Array.from({ length: agents }, () => client.createAgent({})));
  for (const a of created) await socket.subscribe({ agentId: a.id });
  const since = socket.received.length;
  const submittedAt = new Map<string, number>();
  await Promise.all(
    created.map(async (a) => {
      const t0 = Date.now();
      submittedAt.set(a.id, t0);
      await client.submitTask(a.id, { input: 'Hello, goose.', maxTokens: 16, stop: [], sampling: NO_EOT });
    }),
  );
  await Promise.all(
    created.map((a) =>
      socket.waitForFrame((f) => f.type === 'event' && f.kind === 'token' && f.agentId === a.id, {
        timeoutMs: 120_000,
        what: `the first token of agent ${a.id}`,
        fromIndex: since,
      }),
    ),
  );
  const latencies = new Map<string, number>();
  for (const f of socket.received.slice(since)) {
    if (f.frame.type !== 'event' || f.frame.kind !== 'token' || latencies.has(f.frame.agentId)) continue;
    latencies.set(f.frame.agentId, f.receivedAt - submittedAt.get(f.frame.agentId)!);
  }
  for (const a of created) socket.send({ type: 'unsubscribe', agentId: a.id });
  await Promise.all(created.map((a) => client.request('DELETE', `/v1/agents/${a.id}`)));
  return [...latencies.values()];
}

async function main(): Promise<void> {
  const model = await loadModel({
    modelName: 'rwkv7-embedded-random',
    dataDir: SHARED_DATA_DIR,
    threads: THREADS,
  });
  const decoder = new BatchedDecoder(model.engine, { maxBatch: 64 });
  await engineRate(decoder, AGENTS, 32); // warm-up
  const cluster = await GooseherdCluster.start({
    workers: 1,
    workerConcurrency: 64,
    env: { GOOSEHERD_ENGINE_THREADS: String(THREADS), LOG_LEVEL: 'warn' },
  });
  try {
    const socket = await cluster.openSocket('alice');
    await firstTokenLatencies(cluster, socket, 4); // warm-up
    const latency: Record<string, { p50: number; p99: number; n: number }> = {};
    for (const n of [1, 50]) {
      const samples: number[] = [];
      for (let r = 0; r < (n === 1 ? 20 : 3); r++)
        samples.push(...(await firstTokenLatencies(cluster, socket, n)));
      latency[`agents_${n}`] = {
        p50: percentile(samples, 50),
        p99: percentile(samples, 99),
        n: samples.length,
      };
      console.log(
        `first token, ${n} concurrent agent(s): p50 ${latency[`agents_${n}`].p50} ms, p99 ${latency[`agents_${n}`].p99} ms (${samples.length} samples)`,
      );
    }
    await platformRate(cluster, socket, AGENTS, 32); // warm-up
    const engine: number[] = [];
    const platform: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      engine.push(await engineRate(decoder, AGENTS, TOKENS));
      platform.push(await platformRate(cluster, socket, AGENTS, TOKENS));
      console.log(
        `round ${r + 1}: engine ${engine.at(-1)!.toFixed(0)} tok/s, platform ${platform.at(-1)!.toFixed(0)} tok/s`,
      );
    }
    const ratio = median(platform) / median(engine);
    console.log(
      `aggregate decode, ${AGENTS} agents × ${TOKENS} tokens: platform ${median(platform).toFixed(0)} tok/s, ` +
        `engine alone ${median(engine).toFixed(0)} tok/s, ratio ${ratio.toFixed(3)} (medians of ${ROUNDS})`,
    );
    const record = {
      date: new Date().toISOString(),
      machine: `${os.cpus()[0].model.trim()}, ${os.cpus().length} vCPU, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, node ${process.version}`,
      model: model.describe,
      settings: {
        agents: AGENTS,
        tokens: TOKENS,
        rounds: ROUNDS,
        engineThreads: THREADS,
        workerConcurrency: 64,
      },
      latencyMs: latency,
      throughput: { engineTokPerS: engine, platformTokPerS: platform, ratioOfMedians: ratio },
    };
    const out =
      args.out ?? path.join(REPO_ROOT, 'test/bench/results', `platform-${record.date.slice(0, 10)}.json`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(record, null, 2) + '\n');
    console.log(`recorded in ${path.relative(process.cwd(), out)}`);
  } finally {
    await cluster.stop();
    await model.engine.release();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
