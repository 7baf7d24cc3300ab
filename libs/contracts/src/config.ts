import * as os from 'node:os';
import { z } from 'zod';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every process reads its settings from the environment once, through this schema; the README's
 * configuration table lists the same names and defaults.
 */
export const EnvSchema = z.object({
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** Key prefix, so several deployments (or test runs) can share one Redis. */
  GOOSEHERD_REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/)
    .default('gh'),
  PORT: int(0, 65535).default(8080),
  HOST: z.string().default('0.0.0.0'),
  /** When set, accepted as the default tenant's API key. */
  GOOSEHERD_API_KEY: z.string().min(16).max(512).optional(),
  /** More keys at start-up, `tenant:key,tenant:key` (each key ≥ 16 characters); stored hashed. */
  GOOSEHERD_API_KEYS: z
    .string()
    .regex(
      /^([\w.-]{1,64}:[^,:\s]{16,512})(,[\w.-]{1,64}:[^,:\s]{16,512})*$/,
      'expected tenant:key,tenant:key',
    )
    .optional(),
  /** Checkpoint the state at least every N generated tokens. */
  GOOSEHERD_CHECKPOINT_TOKENS: int(1, 100_000).default(32),
  /** Generated tokens per work segment before the agent yields its slot (fairness between agents). */
  GOOSEHERD_SEGMENT_TOKENS: int(1, 1_000_000).default(256),
  /** Agents one worker advances at once, batched into one engine step. */
  GOOSEHERD_WORKER_CONCURRENCY: int(1, 1024).default(16),
  /** The worker serves Prometheus metrics on this port (`GET /metrics`, all interfaces); 0 = none. */
  GOOSEHERD_WORKER_METRICS_PORT: int(0, 65535).default(0),
  /** Tokens a new task's prompt may have (system turn, input, separators); a longer one fails the task. */
  GOOSEHERD_MAX_PROMPT_TOKENS: int(1, 10_000_000).default(65_536),
  /** Lease of a worker on an agent's segment (BullMQ lock); a worker silent for longer loses it. */
  GOOSEHERD_LEASE_MS: int(500, 600_000).default(10_000),
  /** How long SIGTERM may take: the worker checkpoints its agents and exits within this. */
  GOOSEHERD_DRAIN_MS: int(100, 600_000).default(10_000),
  /**
   * A catalogue name (`gooseherd model list`), e.g. rwkv7-g1-0.4b: pulled into GOOSEHERD_DATA_DIR/models on
   * first start and served with its vocabulary; also the default GOOSEHERD_MODEL_NAME. Overrides GOOSEHERD_MODEL_PATH.
   */
  GOOSEHERD_MODEL: z
    .string()
    .regex(/^[\w.-]{1,128}$/, 'expected a catalogue name such as rwkv7-g1-0.4b')
    .optional(),
  /** Hugging Face endpoint (or a mirror) that model pulls download from. */
  GOOSEHERD_HF_ENDPOINT: z.url().default('https://huggingface.co'),
  /** Token for gated repositories, sent as `Authorization: Bearer`. */
  GOOSEHERD_HF_TOKEN: z.string().min(1).max(512).optional(),
  /** A JSON file of catalogue entries added to (or replacing) the built-in ones; see apps/cli/README.md. */
  GOOSEHERD_MODEL_CATALOGUE: z.string().optional(),
  /** Model served by default; a .pth/.safetensors RWKV-7 checkpoint. Unset: the embedded random model. */
  GOOSEHERD_MODEL_PATH: z.string().optional(),
  /** World tokenizer vocabulary (rwkv_vocab_v20230424.txt) for GOOSEHERD_MODEL_PATH. */
  GOOSEHERD_VOCAB_PATH: z.string().optional(),
  /** Name clients use for the model (`model` in POST /v1/agents); when unset, GOOSEHERD_MODEL if that is set. */
  GOOSEHERD_MODEL_NAME: z.string().min(1).max(128).default('rwkv7-embedded-random'),
  /** Where the embedded default model is generated and graphs are cached. */
  GOOSEHERD_DATA_DIR: z.string().default(`${os.homedir()}/.cache/gooseherd`),
  GOOSEHERD_WEIGHTS: z.enum(['fp32', 'fp16', 'int8', 'int4']).default('fp32'),
  GOOSEHERD_ENGINE_THREADS: int(1, 256).optional(),
  /** Agents one tenant may hold. */
  GOOSEHERD_MAX_AGENTS_PER_TENANT: int(1, 1_000_000).default(1000),
  /** Tasks one agent may hold waiting or running; a submission past it is answered 429. */
  GOOSEHERD_MAX_QUEUED_TASKS: int(1, 1_000_000).default(1000),
  /**
   * Bytes of task input and output (plus 4 per output token id) one tenant may store within the retention period
   * (GOOSEHERD_TASK_TTL_S); a submission past it is answered 429.
   */
  GOOSEHERD_MAX_TENANT_BYTES: int(1024, Number.MAX_SAFE_INTEGER).default(1024 ** 3),
  /** Requests per key per window. */
  GOOSEHERD_RATE_LIMIT: int(1, 1_000_000).default(600),
  GOOSEHERD_RATE_WINDOW_S: int(1, 3600).default(60),
  /** Task records and their event logs are kept this long after the task ends. */
  GOOSEHERD_TASK_TTL_S: int(60, 365 * 86400).default(7 * 86400),
  GOOSEHERD_WORKER_NAME: z.string().max(200).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type Env = z.infer<typeof EnvSchema>;

/** Parses `process.env`; throws one error listing every bad variable by name. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  // A pulled catalogue model is known by its catalogue name unless a name is set explicitly.
  if (result.data.GOOSEHERD_MODEL && !source.GOOSEHERD_MODEL_NAME) {
    return { ...result.data, GOOSEHERD_MODEL_NAME: result.data.GOOSEHERD_MODEL };
  }
  return result.data;
}

/** `host:pid`, the name a worker reports in task records. */
/** The tenant GOOSEHERD_API_KEY belongs to. */
export const DEFAULT_TENANT = 'default';

/** GOOSEHERD_API_KEY and GOOSEHERD_API_KEYS as [tenant, key] pairs. */
export function configuredApiKeys(env: Env): [tenant: string, key: string][] {
  const pairs: [string, string][] = [];
  if (env.GOOSEHERD_API_KEY) pairs.push([DEFAULT_TENANT, env.GOOSEHERD_API_KEY]);
  for (const item of env.GOOSEHERD_API_KEYS?.split(',') ?? []) {
    const at = item.indexOf(':');
    pairs.push([item.slice(0, at), item.slice(at + 1)]);
  }
  return pairs;
}

export function defaultWorkerName(): string {
  return `${os.hostname()}:${process.pid}`;
}
