/**
 * Bytes Redis holds per streamed token: one task of N tokens appended in batches of B through the store, then
 * MEMORY USAGE (SAMPLES 0) of the task's event stream, the agent's event stream, its output and its token ids.
 *
 *   npx tsx libs/store/bench/token-bytes.ts [storeSrcDir] [tokens] [batch...]
 *
 * storeSrcDir defaults to this package's src; pass another checkout's libs/store/src to measure it (the README
 * records the command used for the figures before and after). Runs against REDIS_URL under a random prefix, which
 * it deletes afterwards.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import Redis from 'ioredis';

interface StoreModule {
  RedisStore: new (
    redis: Redis,
    o: { prefix: string; taskTtlSeconds: number },
  ) => {
    keys: {
      taskEvents(t: string): string;
      agentEvents(a: string): string;
      taskOutput(t: string): string;
      taskTokenIds(t: string): string;
    };
    createAgent(t: string, i: { model: string }, max: number): Promise<{ id: string }>;
    submitTask(
      t: string,
      a: string,
      i: { input: string; maxTokens: number },
    ): Promise<{ task: { id: string }; segment?: unknown }>;
  };
  WorkerStore: new (
    redis: Redis,
    o: { prefix: string; taskTtlSeconds: number },
  ) => {
    beginSegment(job: unknown, worker: string): Promise<{ kind: string; lease: unknown }>;
    appendTokens(lease: unknown, tokens: { id: number; text: string }[], after: number): Promise<string>;
  };
}

const WORDS = [
  'the',
  ' goose',
  ' herd',
  's',
  ' of',
  ' RW',
  'KV',
  ',',
  ' a',
  ' long',
  '-running',
  ' agent',
  '.',
  '\n',
];

async function measure(store: StoreModule, tokens: number, batch: number) {
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const prefix = `ghbench-bytes-${randomBytes(4).toString('hex')}`;
  try {
    const options = { prefix, taskTtlSeconds: 600 };
    const api = new store.RedisStore(redis, options);
    const worker = new store.WorkerStore(redis, options);
    const agent = await api.createAgent('bench', { model: 'm' }, 10);
    const submitted = await api.submitTask('bench', agent.id, {
      input: 'Tell a long story.',
      maxTokens: tokens,
    });
    const start = await worker.beginSegment(submitted.segment, 'bench:1');
    if (start.kind !== 'run') throw new Error(start.kind);
    for (let out = 0; out < tokens;) {
      const n = Math.min(batch, tokens - out);
      const list = Array.from({ length: n }, (_, i) => ({
        id: out + i,
        text: WORDS[(out + i) % WORDS.length],
      }));
      out += n;
      await worker.appendTokens(start.lease, list, out);
    }
    const usage = async (key: string) =>
      Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    const t = submitted.task.id;
    const taskEvents = await usage(api.keys.taskEvents(t));
    const agentEvents = await usage(api.keys.agentEvents(agent.id));
    const output = await usage(api.keys.taskOutput(t));
    const ids = await usage(api.keys.taskTokenIds(t));
    return { tokens, batch, taskEvents, agentEvents, output, ids };
  } finally {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  }
}

async function main() {
  const [dir = path.join(__dirname, '..', 'src'), tokensArg = '4096', ...batches] = process.argv.slice(2);
  const store = (await import(path.resolve(dir, 'index.ts'))) as StoreModule;
  const tokens = Number(tokensArg);
  for (const batch of (batches.length ? batches : ['1', '8']).map(Number)) {
    const m = await measure(store, tokens, batch);
    const per = (b: number) => (b / tokens).toFixed(1);
    console.log(
      `${tokens} tokens in batches of ${batch}: task events ${m.taskEvents} B (${per(m.taskEvents)} B/token), ` +
        `agent events ${m.agentEvents} B (${per(m.agentEvents)} B/token), output ${m.output} B, ids ${m.ids} B`,
    );
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
