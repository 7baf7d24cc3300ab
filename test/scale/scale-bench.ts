/**
 * Scale benchmark with real processes: a private redis-server, the API and N worker processes on this
 * machine. Measures, per deployment configuration, aggregate decode throughput (tokens/s), short-task
 * throughput (tasks/s) and submit → first-token latency at 1, 50 and 200 concurrent agents; configurations
 * are measured in interleaved rounds and reported as medians. With --memory, also grows one agent's context
 * to ~1M tokens and samples its Redis footprint and its per-token decode time on the way.
 *
 * Run: `npm run bench:scale` (after `npm run build`; plain node, since a TypeScript loader slows the
 * processes' event loops measured here).
 *
 *   --quick          fewer rounds and agents (a smoke run of a few minutes)
 *   --rounds N       interleaved rounds per configuration (default 3; --quick 1)
 *   --memory         also measure Redis bytes and decode time per agent as its context grows to --context
 *   --memory-only    only that
 *   --context N      tokens the --memory agent reads (default 1000000; --quick 100000)
 *   --concurrency N  GOOSEHERD_WORKER_CONCURRENCY of every worker (default 256)
 *   --out FILE       the JSON record (default test/scale/results/scale-<date>.json)
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ApiClient,
  EventSocket,
  GooseherdCluster,
  NO_END_OF_TEXT,
  REPO_ROOT,
  sleep,
  type ApiResponse,
} from '@gooseherd/test-kit';
import { type ContextGrowth, measureContextGrowth, waitForFinal } from './agent-footprint';
import { CpuMeter, type CpuUse } from './cpu-meter';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    memory: { type: 'boolean', default: false },
    'memory-only': { type: 'boolean', default: false },
    context: { type: 'string' },
    concurrency: { type: 'string', default: '256' },
    out: { type: 'string' },
  },
});
const QUICK = args.quick;
const ROUNDS = Number(args.rounds ?? (QUICK ? 1 : 3));
const CONCURRENCY = Number(args.concurrency);
const CONTEXT = Number(args.context ?? (QUICK ? 100_000 : 1_000_000));
const RUN_SCALE = !args['memory-only'];
const RUN_MEMORY = args.memory || args['memory-only'];

/** Decode throughput: this many agents at once, each one task of THROUGHPUT_TOKENS tokens. */
const THROUGHPUT_AGENTS = QUICK ? 32 : 64;
const THROUGHPUT_TOKENS = QUICK ? 128 : 256;
/** Task throughput: this many agents, each TASKS_PER_AGENT short tasks queued at once. */
const TASK_AGENTS = QUICK ? 32 : 64;
const TASKS_PER_AGENT = 4;
const TASK_MAX_TOKENS = 32;
/** First-token latency: concurrency levels, and how many one-agent samples each round takes. */
const LATENCY_LEVELS = [1, 50, 200];
const SINGLE_SAMPLES_PER_ROUND = QUICK ? 5 : 7;
const LATENCY_MAX_TOKENS = 16;
/** Per-tenant agent limit and per-key rate limit the deployments run with (see the README for why). */
const MAX_AGENTS_PER_TENANT = 1000;
const RATE_LIMIT = 1_000_000;
const CORES = os.cpus().length;

interface Config {
  name: string;
  workers: number;
  threads: number;
  /** Latency is measured on the two configurations compared, not on the one-thread reference. */
  latency: boolean;
}

const CONFIGS: Config[] = [
  { name: `1 worker × ${CORES} threads`, workers: 1, threads: CORES, latency: true },
  {
    name: `2 workers × ${Math.max(1, CORES / 2)} thread(s)`,
    workers: 2,
    threads: Math.max(1, Math.floor(CORES / 2)),
    latency: true,
  },
  { name: '1 worker × 1 thread (reference)', workers: 1, threads: 1, latency: false },
];

const median = (xs: number[]) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Nearest-rank percentile. */
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};

/** An ApiClient that notes when each request was sent, to find the busiest rate-limit window. */
class CountingClient extends ApiClient {
  static readonly sentAt: number[] = [];
  override request<T = unknown>(
    method: string,
    urlPath: string,
    body?: unknown,
    options: { timeoutMs?: number; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    CountingClient.sentAt.push(Date.now());
    return super.request<T>(method, urlPath, body, { timeoutMs: 60_000, ...options });
  }

  /** Most requests sent within any `windowMs`. */
  static peakPerWindow(windowMs: number): number {
    const t = CountingClient.sentAt;
    let peak = 0;
    for (let i = 0, j = 0; i < t.length; i++) {
      while (t[i] - t[j] >= windowMs) j++;
      peak = Math.max(peak, i - j + 1);
    }
    return peak;
  }
}

interface Deployment {
  config: Config;
  cluster: GooseherdCluster;
  client: CountingClient;
  tokensPerS: number[];
  /** Server span (first started → last completed) of the same runs. */
  tokensPerSServer: number[];
  tasksPerS: number[];
  /** Tasks each worker ran (from the `started` events), summed over the measured runs. */
  tasksByWorker: Record<string, number>;
  /** Per measured run of a deployment with several workers: segments each worker ran. */
  splits: { measurement: string; segmentsByWorker: Record<string, number> }[];
  latency: Record<number, number[]>;
  /** Per latency level: where the time went, per agent (ms), over all rounds. */
  phases: Record<number, Record<Phase, number[]>>;
  /** CPU use during each decode-throughput run. */
  cpu: CpuUse[];
}

/** Submit → first token, split at the server's event times (same machine, same clock). */
const PHASES = ['accepted', 'started', 'prefilled', 'firstToken', 'delivered'] as const;
type Phase = (typeof PHASES)[number];
const PHASE_MEANING: Record<Phase, string> = {
  accepted: 'submit → `queued` event written (API: auth, rate limit, Lua, enqueue)',
  started: '`queued` → `started` (BullMQ hands the segment to a worker, lease taken)',
  prefilled: '`started` → first `checkpoint` (state restored, prompt prefilled, state committed)',
  firstToken: 'first `checkpoint` → first `token` written (decode step, token write)',
  delivered: '`token` written → frame received on the WebSocket (API event feed → socket)',
};

async function withAgents<T>(
  d: Deployment,
  count: number,
  body: (socket: EventSocket, agentIds: string[]) => Promise<T>,
): Promise<T> {
  const socket = await EventSocket.open(d.cluster.wsUrl, d.cluster.keys.alice);
  const agents = await Promise.all(Array.from({ length: count }, () => d.client.createAgent({})));
  try {
    for (const a of agents) {
      const answer = await socket.subscribe({ agentId: a.id });
      if (answer.type !== 'subscribed') throw new Error(`subscribe ${a.id}: ${JSON.stringify(answer)}`);
    }
    return await body(
      socket,
      agents.map((a) => a.id),
    );
  } finally {
    await socket.close();
    await Promise.all(agents.map((a) => d.client.request('DELETE', `/v1/agents/${a.id}`)));
  }
}

/**
 * Which worker ran each segment (the `started` events): added to the totals, and kept per run as the share of
 * each worker process, so an uneven split between two workers shows run by run.
 */
function countWorkers(d: Deployment, socket: EventSocket, fromIndex: number, measurement: string): void {
  const run: Record<string, number> = Object.fromEntries(d.cluster.workers.map((w) => [w.name, 0]));
  for (const r of socket.received.slice(fromIndex)) {
    const f = r.frame;
    if (f.type !== 'event' || f.kind !== 'started') continue;
    const worker = (f.data as { worker: string }).worker;
    d.tasksByWorker[worker] = (d.tasksByWorker[worker] ?? 0) + 1;
    const name = d.cluster.workers.find((w) => worker.includes(w.name))?.name ?? worker;
    run[name] = (run[name] ?? 0) + 1;
  }
  if (d.config.workers > 1) d.splits.push({ measurement, segmentsByWorker: run });
}

/**
 * `agents` agents each run one task of `tokens` tokens at once. Rate over the client's wall time (first
 * submit → last completion frame) and over the server's span (first `started` → last `completed`).
 */
async function decodeThroughput(
  d: Deployment,
  agents: number,
  tokens: number,
  record: boolean,
): Promise<{ wall: number; server: number }> {
  return withAgents(d, agents, async (socket, ids) => {
    const since = socket.received.length;
    const meter = CpuMeter.start([d.cluster]);
    const t0 = Date.now();
    const tasks = await Promise.all(
      ids.map((id) =>
        d.client.submitTask(id, {
          input: 'Count the geese.',
          maxTokens: tokens,
          stop: [],
          sampling: NO_END_OF_TEXT,
        }),
      ),
    );
    const finals = await waitForFinal(
      socket,
      tasks.map((t) => t.id),
      { fromIndex: since, timeoutMs: 600_000, what: `${agents} decode tasks on ${d.config.name}` },
    );
    const t1 = Date.now();
    const cpu = meter.stop();
    if (record && cpu) d.cpu.push(cpu);
    let total = 0;
    let lastDone = 0;
    for (const f of finals.values()) {
      total += (f.data as { tokensOut: number }).tokensOut;
      lastDone = Math.max(lastDone, Date.parse(f.at));
    }
    const firstStart = Math.min(
      ...socket.events().flatMap((e) => (e.kind === 'started' ? [Date.parse(e.at)] : [])),
    );
    if (record) countWorkers(d, socket, since, `decode ${agents}×${tokens}`);
    return { wall: total / ((t1 - t0) / 1000), server: total / ((lastDone - firstStart) / 1000) };
  });
}

/** `agents` agents with `perAgent` short tasks each, all submitted at once; tasks/s over the client's wall time. */
async function taskThroughput(
  d: Deployment,
  agents: number,
  perAgent: number,
  record: boolean,
): Promise<number> {
  return withAgents(d, agents, async (socket, ids) => {
    const since = socket.received.length;
    const t0 = Date.now();
    const tasks = (
      await Promise.all(
        ids.map(async (id) => {
          const mine: string[] = [];
          for (let i = 0; i < perAgent; i++) {
            const t = await d.client.submitTask(id, {
              input: `Task ${i}: honk.`,
              maxTokens: TASK_MAX_TOKENS,
              stop: [],
              sampling: NO_END_OF_TEXT,
            });
            mine.push(t.id);
          }
          return mine;
        }),
      )
    ).flat();
    await waitForFinal(socket, tasks, {
      fromIndex: since,
      timeoutMs: 600_000,
      what: `${tasks.length} short tasks on ${d.config.name}`,
    });
    const t1 = Date.now();
    if (record) countWorkers(d, socket, since, `tasks ${agents}×${perAgent}`);
    return tasks.length / ((t1 - t0) / 1000);
  });
}

/**
 * Submit → first token frame, for `agents` agents submitting at once (WebSocket subscribed beforehand).
 * Returns each agent's latency and its split at the server's event times.
 */
async function firstTokenLatencies(
  d: Deployment,
  agents: number,
): Promise<{ latencies: number[]; phases: Record<Phase, number[]> }> {
  return withAgents(d, agents, async (socket, ids) => {
    const since = socket.received.length;
    const submittedAt = new Map<string, number>();
    const tasks = await Promise.all(
      ids.map(async (id) => {
        submittedAt.set(id, Date.now());
        return d.client.submitTask(id, {
          input: 'Hello, goose.',
          maxTokens: LATENCY_MAX_TOKENS,
          stop: [],
          sampling: NO_END_OF_TEXT,
        });
      }),
    );
    await waitForFinal(
      socket,
      tasks.map((t) => t.id),
      { fromIndex: since, timeoutMs: 300_000, what: `${agents} latency tasks on ${d.config.name}` },
    );
    // The first event of each kind per agent: server time (`at`), and for the first token the arrival time.
    const first = new Map<string, Partial<Record<string, number>>>();
    for (const r of socket.received.slice(since)) {
      const f = r.frame;
      if (f.type !== 'event') continue;
      const seen = first.get(f.agentId) ?? {};
      first.set(f.agentId, seen);
      seen[f.kind] ??= Date.parse(f.at);
      if (f.kind === 'token') seen.received ??= r.receivedAt;
    }
    if (agents > 1) countWorkers(d, socket, since, `first token ×${agents}`);
    const latencies: number[] = [];
    const phases = Object.fromEntries(PHASES.map((p) => [p, [] as number[]])) as Record<Phase, number[]>;
    for (const id of ids) {
      const t = first.get(id);
      const sent = submittedAt.get(id)!;
      if (!t?.received || !t.queued || !t.started || !t.checkpoint || !t.token) {
        throw new Error(`agent ${id}: incomplete event sequence ${JSON.stringify(t)}`);
      }
      latencies.push(t.received - sent);
      phases.accepted.push(t.queued - sent);
      phases.started.push(t.started - t.queued);
      phases.prefilled.push(t.checkpoint - t.started);
      phases.firstToken.push(t.token - t.checkpoint);
      phases.delivered.push(t.received - t.token);
    }
    return { latencies, phases };
  });
}

async function startDeployment(config: Config): Promise<Deployment> {
  const cluster = await GooseherdCluster.start({
    workers: config.workers,
    workerConcurrency: CONCURRENCY,
    leaseMs: 10_000,
    env: {
      GOOSEHERD_ENGINE_THREADS: String(config.threads),
      GOOSEHERD_MAX_AGENTS_PER_TENANT: String(MAX_AGENTS_PER_TENANT),
      GOOSEHERD_RATE_LIMIT: String(RATE_LIMIT),
      LOG_LEVEL: 'warn',
    },
  });
  return {
    config,
    cluster,
    client: new CountingClient(cluster.baseUrl, cluster.keys.alice),
    tokensPerS: [],
    tokensPerSServer: [],
    tasksPerS: [],
    tasksByWorker: {},
    splits: [],
    latency: Object.fromEntries(LATENCY_LEVELS.map((n) => [n, []])),
    phases: Object.fromEntries(
      LATENCY_LEVELS.map((n) => [n, Object.fromEntries(PHASES.map((p) => [p, [] as number[]]))]),
    ) as Deployment['phases'],
    cpu: [],
  };
}

async function measureRound(d: Deployment, round: number): Promise<void> {
  const tok = await decodeThroughput(d, THROUGHPUT_AGENTS, THROUGHPUT_TOKENS, true);
  d.tokensPerS.push(tok.wall);
  d.tokensPerSServer.push(tok.server);
  d.tasksPerS.push(await taskThroughput(d, TASK_AGENTS, TASKS_PER_AGENT, true));
  let line =
    `round ${round + 1}, ${d.config.name}: ${tok.wall.toFixed(0)} tok/s (server span ${tok.server.toFixed(0)}), ` +
    `${d.tasksPerS.at(-1)!.toFixed(1)} tasks/s`;
  if (d.config.latency) {
    for (const n of LATENCY_LEVELS) {
      const samples: number[] = [];
      for (let i = 0; i < (n === 1 ? SINGLE_SAMPLES_PER_ROUND : 1); i++) {
        const { latencies, phases } = await firstTokenLatencies(d, n);
        samples.push(...latencies);
        for (const p of PHASES) d.phases[n][p].push(...phases[p]);
      }
      d.latency[n].push(...samples);
      line += `; first token @${n}: p50 ${percentile(samples, 50)} p99 ${percentile(samples, 99)} ms`;
    }
  }
  console.log(line);
}

function machineDescription(): string {
  const cpus = os.cpus();
  let redis = 'redis-server ?';
  try {
    redis = execFileSync('redis-server', ['--version']).toString().split(' ').slice(0, 3).join(' ');
  } catch {
    // the cluster would not have started without it
  }
  return (
    `${cpus[0].model.trim()}, ${cpus.length} vCPU, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `${os.platform()} ${os.release()}, node ${process.version}, ${redis.trim()}`
  );
}

/** The commit measured, with "+changes" when the working tree differs from it. */
function gitCommit(): string | undefined {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs', 'engine'], {
      cwd: REPO_ROOT,
    })
      .toString()
      .trim();
    return dirty ? `${head}+changes` : head;
  } catch {
    return undefined;
  }
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const line = (r: string[]) => '| ' + r.map((cell, c) => cell.padEnd(widths[c])).join(' | ') + ' |';
  return [
    line(rows[0]),
    '| ' + widths.map((w) => '-'.repeat(w)).join(' | ') + ' |',
    ...rows.slice(1).map(line),
  ].join('\n');
}

async function runScale() {
  const deployments: Deployment[] = [];
  let idle: CpuUse | undefined;
  let machineBefore: CpuUse | undefined;
  try {
    // How busy the machine is before anything of ours runs (other people's work on a shared machine).
    const before = CpuMeter.start([]);
    await sleep(3_000);
    machineBefore = before.stop();
    for (const config of CONFIGS) {
      deployments.push(await startDeployment(config));
      console.log(`started ${config.name}`);
    }
    // What the deployments cost while idle (they all stay up; only one is measured at a time).
    const meter = CpuMeter.start(deployments.map((d) => d.cluster));
    await sleep(5_000);
    idle = meter.stop();
    console.log(
      `idle: the ${deployments.length} deployments use ${idle?.deployment.toFixed(2)} cores; ` +
        `the machine was ${machineBefore?.machine.toFixed(2)} of ${CORES} cores busy before they started`,
    );
    for (const d of deployments) {
      // Warm-up: JIT, onnxruntime sessions, Redis scripts.
      await decodeThroughput(d, 16, 32, false);
      await taskThroughput(d, 8, 2, false);
      if (d.config.latency) await firstTokenLatencies(d, 4);
    }
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round, so a drift of the machine's speed does not favour one configuration.
      for (let i = 0; i < deployments.length; i++)
        await measureRound(deployments[(r + i) % deployments.length], r);
    }
  } finally {
    await Promise.all(deployments.map((d) => d.cluster.stop()));
  }
  const summary = deployments.map((d) => ({
    name: d.config.name,
    workers: d.config.workers,
    threadsPerWorker: d.config.threads,
    tokensPerS: d.tokensPerS,
    tokensPerSMedian: median(d.tokensPerS),
    tokensPerSServerSpan: d.tokensPerSServer,
    tasksPerS: d.tasksPerS,
    tasksPerSMedian: median(d.tasksPerS),
    tasksByWorker: d.tasksByWorker,
    splits: d.splits.length ? d.splits : undefined,
    /** tokens/s ÷ cores the deployment used: what a core of CPU buys, less sensitive to others' load. */
    tokensPerCpuSecondMedian: d.cpu.length
      ? median(d.tokensPerS.map((rate, i) => rate / (d.cpu[i]?.deployment ?? NaN)))
      : undefined,
    cpuDuringDecode: d.cpu.length
      ? {
          deploymentCores: median(d.cpu.map((c) => c.deployment)),
          benchCores: median(d.cpu.map((c) => c.bench)),
          machineCores: median(d.cpu.map((c) => c.machine)),
          othersCores: median(d.cpu.map((c) => c.others)),
          processCores: Object.fromEntries(
            Object.keys(d.cpu[0].processes).map((k) => [k, median(d.cpu.map((c) => c.processes[k] ?? 0))]),
          ),
          runs: d.cpu,
        }
      : undefined,
    firstTokenPhasesMs: d.config.latency
      ? Object.fromEntries(
          LATENCY_LEVELS.map((n) => [
            `agents_${n}`,
            Object.fromEntries(
              PHASES.map((p) => [
                p,
                { p50: percentile(d.phases[n][p], 50), p99: percentile(d.phases[n][p], 99) },
              ]),
            ),
          ]),
        )
      : undefined,
    firstTokenMs: d.config.latency
      ? Object.fromEntries(
          LATENCY_LEVELS.map((n) => [
            `agents_${n}`,
            { p50: percentile(d.latency[n], 50), p99: percentile(d.latency[n], 99), n: d.latency[n].length },
          ]),
        )
      : undefined,
  }));
  return { deployments, summary, idle, machineBefore };
}

async function runMemory(): Promise<ContextGrowth & { wallMs: number; threads: number }> {
  const targets = [1_000, 10_000, 100_000, 1_000_000].filter((t) => t < CONTEXT);
  targets.push(CONTEXT);
  const cluster = await GooseherdCluster.start({
    workers: 1,
    leaseMs: 10_000,
    env: { GOOSEHERD_ENGINE_THREADS: String(CORES), LOG_LEVEL: 'warn' },
  });
  try {
    const client = new CountingClient(cluster.baseUrl, cluster.keys.alice);
    const socket = await EventSocket.open(cluster.wsUrl, cluster.keys.alice);
    const t0 = Date.now();
    const growth = await measureContextGrowth(cluster, client, socket, {
      targets,
      decodeTokens: 64,
      decodeRepeats: 3,
      eventCapTokens: 4096,
      interleavedRounds: 12,
      feedTimeoutMs: 1_800_000,
      log: (line) => console.log(line),
    });
    await socket.close();
    return { ...growth, wallMs: Date.now() - t0, threads: CORES };
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const record: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: machineDescription(),
    model: 'rwkv7-embedded-random (L4 C256, byte-level vocabulary, random weights)',
    commit: gitCommit(),
    loadAverageAtStart: os.loadavg(),
    command: `npm run bench:scale${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
  };
  if (RUN_SCALE) {
    const { summary, idle, machineBefore } = await runScale();
    record.machineBusyBeforeStartCores = machineBefore?.machine;
    record.idleDeploymentsCores = idle?.deployment;
    record.settings = {
      rounds: ROUNDS,
      decodeThroughput: { agents: THROUGHPUT_AGENTS, tokensPerTask: THROUGHPUT_TOKENS },
      taskThroughput: { agents: TASK_AGENTS, tasksPerAgent: TASKS_PER_AGENT, maxTokens: TASK_MAX_TOKENS },
      latency: {
        levels: LATENCY_LEVELS,
        maxTokens: LATENCY_MAX_TOKENS,
        singleAgentSamplesPerRound: SINGLE_SAMPLES_PER_ROUND,
      },
      workerConcurrency: CONCURRENCY,
      maxAgentsPerTenant: MAX_AGENTS_PER_TENANT,
      rateLimit: RATE_LIMIT,
      leaseMs: 10_000,
      checkpointTokens: 32,
      segmentTokens: 256,
      firstTokenPhases: PHASE_MEANING,
    };
    record.configurations = summary;
    record.requests = {
      peakPer60s: CountingClient.peakPerWindow(60_000),
      total: CountingClient.sentAt.length,
    };
    const rows = [
      [
        'configuration',
        'tokens/s',
        'tokens/CPU-s',
        'tasks/s',
        ...LATENCY_LEVELS.map((n) => `first token @${n} p50/p99 ms`),
      ],
    ];
    for (const s of summary) {
      rows.push([
        s.name,
        s.tokensPerSMedian.toFixed(0),
        s.tokensPerCpuSecondMedian?.toFixed(0) ?? '-',
        s.tasksPerSMedian.toFixed(1),
        ...LATENCY_LEVELS.map((n) => {
          const l = s.firstTokenMs?.[`agents_${n}`];
          return l ? `${l.p50} / ${l.p99} (n=${l.n})` : '-';
        }),
      ]);
    }
    console.log(
      `\nmedians of ${ROUNDS} round(s); ${THROUGHPUT_AGENTS} agents × ${THROUGHPUT_TOKENS} tokens; ` +
        `${TASK_AGENTS} agents × ${TASKS_PER_AGENT} tasks of ${TASK_MAX_TOKENS} tokens; worker concurrency ${CONCURRENCY}`,
    );
    console.log(table(rows));
    for (const s of summary) {
      if (!s.splits) continue;
      console.log(`segments per worker, ${s.name}, run by run:`);
      for (const sp of s.splits)
        console.log(`  ${sp.measurement}: ${Object.values(sp.segmentsByWorker).join(' / ')}`);
    }
    const cpuRows = [['configuration', 'deployment', 'bench client', 'others', 'machine', 'per process']];
    for (const s of summary) {
      const c = s.cpuDuringDecode;
      if (!c) continue;
      cpuRows.push([
        s.name,
        c.deploymentCores.toFixed(2),
        c.benchCores.toFixed(2),
        c.othersCores.toFixed(2),
        c.machineCores.toFixed(2),
        Object.entries(c.processCores)
          .map(([k, v]) => `${k} ${v.toFixed(2)}`)
          .join(', '),
      ]);
    }
    console.log(`\ncores used during the decode-throughput runs (medians; ${CORES} cores in all)`);
    console.log(table(cpuRows));
    const phaseRows = [['configuration', 'agents', ...PHASES.map((p) => `${p} p50/p99`)]];
    for (const s of summary) {
      for (const n of LATENCY_LEVELS) {
        const ph = s.firstTokenPhasesMs?.[`agents_${n}`];
        if (ph) phaseRows.push([s.name, String(n), ...PHASES.map((p) => `${ph[p].p50} / ${ph[p].p99}`)]);
      }
    }
    console.log('\nwhere the first-token time goes (ms; server event times):');
    for (const p of PHASES) console.log(`  ${p}: ${PHASE_MEANING[p]}`);
    console.log(table(phaseRows));
    console.log(`busiest 60 s: ${CountingClient.peakPerWindow(60_000)} requests on one API key`);
  }
  if (RUN_MEMORY) {
    const memory = await runMemory();
    record.memory = memory;
    const rows = [
      [
        'tokensSeen',
        'hash B',
        'state B (STRLEN)',
        'mailbox B',
        'agent B',
        'events (entries, B)',
        'task ms/token',
        'decode ms/token',
      ],
    ];
    for (const p of memory.points) {
      const f = p.footprint;
      rows.push([
        String(f.tokensSeen),
        String(f.hashBytes),
        `${f.stateBytes} (${f.stateBlobLength})`,
        String(f.mailboxBytes),
        String(f.agentBytes),
        `${f.eventsEntries}, ${f.eventsBytes}`,
        p.msPerToken.toFixed(2),
        p.decodeMsPerToken.toFixed(2),
      ]);
    }
    console.log(
      `\none agent's Redis footprint and decode time as its context grows (${memory.threads} threads)`,
    );
    console.log(table(rows));
    const fed = memory.points.reduce((s, p) => s + p.feed.tokens, 0);
    const feedMs = memory.points.reduce((s, p) => s + p.feed.wallMs, 0);
    console.log(
      `fed ${fed} tokens in ${memory.points.reduce((s, p) => s + p.feed.tasks, 0)} tasks: ` +
        `${(feedMs / 1000).toFixed(1)} s wall, ${(fed / (feedMs / 1000)).toFixed(0)} tokens/s`,
    );
    if (memory.eventCap) {
      const { before, after, tokens } = memory.eventCap;
      console.log(
        `events stream cap: ${before.eventsEntries} → ${after.eventsEntries} entries (${before.eventsBytes} → ` +
          `${after.eventsBytes} B) after a ${tokens}-token task`,
      );
    }
    console.log(`one 32,768-character task's own keys (expire with the task): ${memory.bigTaskBytes} B`);
    const il = memory.interleaved;
    if (il) {
      console.log(
        `decode alone, interleaved (${il.rounds} rounds, medians): ${il.long.decodeMsPerToken.toFixed(2)} ms/token at ` +
          `${il.long.tokensSeen} tokens of context, ${il.fresh.decodeMsPerToken.toFixed(2)} at ${il.fresh.tokensSeen}: ` +
          `ratio ${il.ratio.toFixed(2)}`,
      );
    }
  }
  record.loadAverageAtEnd = os.loadavg();
  record.benchSeconds = Math.round((Date.now() - started) / 1000);
  const out =
    args.out ?? path.join(REPO_ROOT, 'test/scale/results', `scale-${String(record.date).slice(0, 10)}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  // Formatted as the repository's `prettier --check` expects.
  const prettier = await import('prettier');
  const json = await prettier.format(JSON.stringify(record, null, 2), {
    ...(await prettier.resolveConfig(out)),
    filepath: out,
  });
  fs.writeFileSync(out, json);
  console.log(`recorded in ${path.relative(process.cwd(), out)} (${record.benchSeconds} s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
