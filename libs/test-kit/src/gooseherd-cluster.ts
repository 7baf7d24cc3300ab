import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StopWaiting, waitFor } from './deadline.js';
import { EventSocket } from './event-socket.js';
import { type ExitStatus, ManagedProcess, freePort } from './managed-process.js';
import { PrivateRedis } from './private-redis.js';
import { tcpConnectionsOf } from './process-sockets.js';
import { ApiClient } from './rest-client.js';

/** The repository root: the nearest folder above this file with nx.json (works from src and from dist). */
export const REPO_ROOT = (() => {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'nx.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();
export const API_MAIN = path.join(REPO_ROOT, 'apps/api/dist/main.js');
export const WORKER_MAIN = path.join(REPO_ROOT, 'apps/worker/dist/main.js');

/** Where every test file's workers find (or generate, once) the embedded random model. */
export const SHARED_DATA_DIR =
  process.env.GOOSEHERD_E2E_DATA_DIR ?? path.join(os.tmpdir(), 'gooseherd-e2e-data');

/** Long variants (more tokens, more kills) run only with GOOSEHERD_E2E_LONG=1. */
export const LONG = process.env.GOOSEHERD_E2E_LONG === '1';

/** The BullMQ queue of agent segments (contracts' QueueName.AgentSegments), as workers name their connection. */
const SEGMENT_QUEUE = 'gh-agent-segments';
const WORKER_CLIENT_NAME = new RegExp(`:${Buffer.from(SEGMENT_QUEUE).toString('base64')}(:w:.*)?$`);

export interface ClusterOptions {
  /** Worker processes started with the cluster (more can be added with startWorker). Default 1. */
  workers?: number;
  leaseMs?: number;
  drainMs?: number;
  checkpointTokens?: number;
  segmentTokens?: number;
  /** GOOSEHERD_WORKER_CONCURRENCY; the worker's default when undefined. */
  workerConcurrency?: number;
  /** Redis persists to an append-only file, so it can be shut down and restarted with its data. */
  appendOnly?: boolean;
  /** More environment for every process (overrides the harness's). */
  env?: Record<string, string>;
}

/** The settings a cluster's processes run with (what tests compute bounds from). */
export interface ClusterSettings {
  leaseMs: number;
  drainMs: number;
  checkpointTokens: number;
  segmentTokens: number;
  prefix: string;
}

/**
 * One Gooseherd deployment made of real processes: a private redis-server, one API and N workers, each with
 * its own log file. Two tenants, alice and bob, have keys.
 */
export class GooseherdCluster {
  readonly workers: ManagedProcess[] = [];
  api!: ManagedProcess;
  /** API processes that restartApi replaced (their logs stay in logTails). */
  readonly retiredApis: ManagedProcess[] = [];
  apiPort = 0;
  /** API keys: alice and bob from GOOSEHERD_API_KEYS, the default tenant from GOOSEHERD_API_KEY. */
  readonly keys = {
    alice: `alice-${randomBytes(16).toString('hex')}`,
    bob: `bob-${randomBytes(16).toString('hex')}`,
    default: `default-${randomBytes(16).toString('hex')}`,
  };
  private workerCount = 0;

  private constructor(
    readonly redis: PrivateRedis,
    readonly workDir: string,
    readonly settings: ClusterSettings,
    private readonly options: ClusterOptions,
  ) {}

  /** Starts Redis, the API (ready: /readyz answers 200) and the workers (ready: consuming the queue). */
  static async start(options: ClusterOptions = {}): Promise<GooseherdCluster> {
    for (const file of [API_MAIN, WORKER_MAIN]) {
      if (!fs.existsSync(file)) {
        throw new Error(
          `${path.relative(REPO_ROOT, file)} is missing: run \`npm run build\` at the repository root`,
        );
      }
    }
    fs.mkdirSync(SHARED_DATA_DIR, { recursive: true });
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-e2e-'));
    const settings: ClusterSettings = {
      leaseMs: options.leaseMs ?? 2_000,
      drainMs: options.drainMs ?? 3_000,
      checkpointTokens: options.checkpointTokens ?? 32,
      segmentTokens: options.segmentTokens ?? 256,
      prefix: 'gh',
    };
    const redis = await PrivateRedis.start({ dir: workDir, appendOnly: options.appendOnly });
    const cluster = new GooseherdCluster(redis, workDir, settings, options);
    try {
      await cluster.startApi();
      // The first worker ever to run generates the embedded model into the shared data dir; let it finish
      // before the others start, so they do not all generate it at once.
      const marker = path.join(SHARED_DATA_DIR, '.e2e-model-ready');
      const wanted = options.workers ?? 1;
      if (wanted > 0 && !fs.existsSync(marker)) {
        await cluster.startWorker();
        fs.writeFileSync(marker, new Date().toISOString());
      }
      await cluster.startWorkers(wanted - cluster.workers.length);
      return cluster;
    } catch (err) {
      const logs = cluster.logTails();
      await cluster.stop({ keepLogs: true });
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logs}`);
    }
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.apiPort}/v1/ws`;
  }

  get alice(): ApiClient {
    return new ApiClient(this.baseUrl, this.keys.alice);
  }

  get bob(): ApiClient {
    return new ApiClient(this.baseUrl, this.keys.bob);
  }

  get anonymous(): ApiClient {
    return new ApiClient(this.baseUrl, undefined);
  }

  /** Environment shared by the API and the workers. */
  private baseEnv(): NodeJS.ProcessEnv {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !/^(GOOSEHERD_|REDIS_URL$|PORT$|HOST$|LOG_LEVEL$)/.test(name),
      ),
    );
    const s = this.settings;
    return {
      ...inherited,
      REDIS_URL: this.redis.url,
      GOOSEHERD_REDIS_PREFIX: s.prefix,
      GOOSEHERD_API_KEYS: `alice:${this.keys.alice},bob:${this.keys.bob}`,
      GOOSEHERD_API_KEY: this.keys.default,
      GOOSEHERD_CHECKPOINT_TOKENS: String(s.checkpointTokens),
      GOOSEHERD_SEGMENT_TOKENS: String(s.segmentTokens),
      GOOSEHERD_LEASE_MS: String(s.leaseMs),
      GOOSEHERD_DRAIN_MS: String(s.drainMs),
      GOOSEHERD_DATA_DIR: SHARED_DATA_DIR,
      // Tests send bursts of requests; the per-key rate limit is not what they check.
      GOOSEHERD_RATE_LIMIT: '1000000',
      GOOSEHERD_ENGINE_THREADS: '1',
      ...(this.options.workerConcurrency
        ? { GOOSEHERD_WORKER_CONCURRENCY: String(this.options.workerConcurrency) }
        : {}),
      LOG_LEVEL: 'warn',
      ...this.options.env,
    };
  }

  private async startApi(): Promise<void> {
    this.apiPort = await freePort();
    this.spawnApi('api');
    await this.waitForReady(60_000);
  }

  private spawnApi(name: string, env: Record<string, string> = {}): void {
    this.api = this.spawnApiProcess(name, this.apiPort, env);
  }

  /**
   * Starts an API process on `port` with the cluster's environment plus `env`, without waiting for it (a second
   * instance beside `api`, or one expected to refuse its configuration). The cluster stops it at the end.
   */
  spawnApiProcess(name: string, port: number, env: Record<string, string> = {}): ManagedProcess {
    const api = ManagedProcess.spawn(name, process.execPath, [API_MAIN], {
      cwd: REPO_ROOT,
      env: { ...this.baseEnv(), PORT: String(port), HOST: '127.0.0.1', ...env },
      logPath: path.join(this.workDir, `${name}.log`),
    });
    this.extraApis.push(api);
    return api;
  }

  private readonly extraApis: ManagedProcess[] = [];

  /**
   * Stops the API (SIGTERM: it closes WebSocket clients with 1001 and ends SSE streams; SIGKILL after
   * `graceMs`) and starts a new API process on the same port, then waits until it answers 200 on /readyz.
   * Returns the old process's exit status, the milliseconds from the signal to its exit, and from the signal
   * to the new API being ready. `env` is added to the new process's environment (e.g. other API keys).
   */
  async restartApi(
    options: { graceMs?: number; readyTimeoutMs?: number; env?: Record<string, string> } = {},
  ): Promise<{ exit: ExitStatus; exitMs: number; downMs: number }> {
    const old = this.api;
    const signalledAt = Date.now();
    const exit = await old.stop(options.graceMs ?? 10_000);
    const exitMs = (old.exitedAt ?? Date.now()) - signalledAt;
    this.retiredApis.push(old);
    this.spawnApi(`api-${this.retiredApis.length + 1}`, options.env);
    await this.waitForReady(options.readyTimeoutMs ?? 60_000);
    return { exit, exitMs, downMs: Date.now() - signalledAt };
  }

  /** Waits until GET /readyz answers 200; fails at once if the API process exits. */
  async waitForReady(timeoutMs: number): Promise<void> {
    await waitFor(
      async (seen) => {
        if (!this.api.running) throw new StopWaiting(`the API exited: ${this.api.describe()}`);
        const res = await this.anonymous.request('GET', '/readyz', undefined, { timeoutMs: 2_000 });
        seen(`HTTP ${res.status}`);
        return res.status === 200;
      },
      { timeoutMs, what: 'the API to answer 200 on /readyz', intervalMs: 100 },
    );
  }

  /** Starts one more worker process and waits until it consumes the segment queue. */
  async startWorker(): Promise<ManagedProcess> {
    return (await this.startWorkers(1))[0];
  }

  /**
   * Starts `count` worker processes at once and waits until each consumes the segment queue: their BullMQ
   * connections show up in CLIENT LIST (named after the queue, and after the worker when it sets a name).
   */
  async startWorkers(count: number): Promise<ManagedProcess[]> {
    if (count <= 0) return [];
    const before = await this.queueConsumers();
    const started: ManagedProcess[] = [];
    for (let i = 0; i < count; i++) {
      this.workerCount += 1;
      const name = `e2e-worker-${this.workerCount}`;
      const worker = ManagedProcess.spawn(name, process.execPath, [WORKER_MAIN], {
        cwd: REPO_ROOT,
        env: { ...this.baseEnv(), PORT: String(await freePort()), GOOSEHERD_WORKER_NAME: name },
        logPath: path.join(this.workDir, `${name}.log`),
      });
      this.workers.push(worker);
      started.push(worker);
    }
    await waitFor(
      async (seen) => {
        const dead = started.find((w) => !w.running);
        if (dead) throw new StopWaiting(`${dead.describe()} exited while starting`);
        const consumers = await this.queueConsumerClients();
        const names = consumers.map((c) => c.name);
        seen(`${names.length} queue consumer connections, ${before} before these workers started`);
        const allNamed = started.every((w) => names.some((n) => n.endsWith(`:w:${w.name}`)));
        // Exact on Linux, and right while other workers come and go: each process's own sockets (/proc) include
        // a queue consumer connection.
        const addrs = new Set(consumers.map((c) => c.addr));
        const allConsuming = started.every((w) =>
          tcpConnectionsOf(w.pid, this.redis.port).some((a) => addrs.has(a)),
        );
        return allNamed || allConsuming || names.length >= before + count;
      },
      {
        timeoutMs: 120_000,
        what: `${started.map((w) => w.name).join(', ')} to consume the ${SEGMENT_QUEUE} queue`,
        intervalMs: 100,
      },
    );
    return started;
  }

  /** Redis connections that BullMQ workers of the segment queue have named (CLIENT LIST). */
  async queueConsumers(): Promise<number> {
    return (await this.workerClientNames()).length;
  }

  private async workerClientNames(): Promise<string[]> {
    return (await this.queueConsumerClients()).map((c) => c.name);
  }

  /** CLIENT LIST entries (name and addr) of the segment queue's BullMQ worker connections. */
  private async queueConsumerClients(): Promise<{ name: string; addr: string }[]> {
    const list = (await this.redis.redis().call('CLIENT', 'LIST')) as string;
    return list
      .split('\n')
      .map((line) => ({
        name: /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '',
        addr: /(?:^| )addr=(\S*)/.exec(line)?.[1] ?? '',
      }))
      .filter((c) => WORKER_CLIENT_NAME.test(c.name));
  }

  /**
   * The worker process a task record names. The contract says `worker` is `host:pid`; a worker given
   * GOOSEHERD_WORKER_NAME may report that name instead, so both are recognized.
   */
  workerFor(workerField: string | null): ManagedProcess {
    // Exact names and pids first: with ten or more workers, "e2e-worker-10:…" also contains "e2e-worker-1".
    const found =
      this.workers.find(
        (w) =>
          workerField === w.name ||
          workerField?.startsWith(`${w.name}:`) ||
          workerField?.endsWith(`:${w.pid}`),
      ) ?? this.workers.find((w) => workerField?.includes(w.name));
    if (!found) {
      throw new Error(
        `no worker of this cluster is "${workerField}" (have ${this.workers.map((w) => w.describe())})`,
      );
    }
    return found;
  }

  async openSocket(tenant: 'alice' | 'bob' | 'default' = 'alice'): Promise<EventSocket> {
    const socket = await EventSocket.open(this.wsUrl, this.keys[tenant]);
    this.sockets.push(socket);
    return socket;
  }

  private readonly sockets: EventSocket[] = [];

  /** The last lines of every process's log, labelled. */
  logTails(lines = 40): string {
    const procs = [this.redis.process, ...this.retiredApis, this.api, ...this.workers].filter(Boolean);
    return procs.map((p) => `──── ${p.describe()} ────\n${p.tail(lines)}`).join('\n');
  }

  /** Closes sockets, stops workers, API and Redis; removes the work dir unless `keepLogs`. */
  async stop(options: { keepLogs?: boolean } = {}): Promise<void> {
    await Promise.all(this.sockets.map((s) => s.close().catch(() => undefined)));
    const graceMs = this.settings.drainMs + 2_000;
    const apis = new Set([this.api, ...this.extraApis]);
    await Promise.all([...this.workers, ...apis].filter(Boolean).map((p) => p.stop(graceMs)));
    await this.redis.stop();
    if (!options.keepLogs) fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

declare global {
  var __gooseherdE2eFailures: number | undefined;
}

/**
 * Starts a cluster in beforeAll and stops it in afterAll, also when tests failed, printing the tails of the
 * processes' logs (and keeping them on disk) when anything in the file failed. Returns a getter.
 */
export function useCluster(options: ClusterOptions = {}): () => GooseherdCluster {
  let cluster: GooseherdCluster | undefined;
  beforeAll(async () => {
    cluster = await GooseherdCluster.start(options);
  }, 300_000);
  afterAll(async () => {
    if (!cluster) return;
    const failed = (globalThis.__gooseherdE2eFailures ?? 0) > 0;
    if (failed) {
      process.stderr.write(`\nprocess logs (kept in ${cluster.workDir}):\n${cluster.logTails()}\n\n`);
    }
    await cluster.stop({ keepLogs: failed });
  }, 120_000);
  return () => {
    if (!cluster) throw new Error('the cluster did not start (see the beforeAll error)');
    return cluster;
  };
}
