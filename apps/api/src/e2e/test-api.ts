import type { INestApplication } from '@nestjs/common';
import { loadEnv, type AgentSegmentJob } from '@gooseherd/contracts';
import { WorkerStore } from '@gooseherd/store';
import { Redis } from 'ioredis';
import { EventSocket, SseParser, waitFor as waitForValue, type ServerSentEvent } from '@gooseherd/test-kit';
import { createApp } from '../create-app.js';
import { createLogger } from '../observability/logger.js';

/** Test helpers: the real app on port 0 against the real Redis, under a prefix of its own. */

export const KEYS = { alpha: 'alpha-key-0123456789abcdef', beta: 'beta-key-0123456789abcdef' };
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Parsed JSON under test: its shape is what the assertions check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export interface Reply {
  status: number;
  headers: Headers;
  body: Json;
}

export interface TestApi {
  url: string;
  wsUrl: string;
  prefix: string;
  app: INestApplication;
  /** The worker's side of the store, to write events as a worker would. */
  worker: WorkerStore;
  redis: Redis;
  call(
    method: string,
    path: string,
    options?: {
      key?: string | null;
      json?: unknown;
      headers?: Record<string, string>;
      body?: RequestInit['body'];
    },
  ): Promise<Reply>;
  close(): Promise<void>;
}

export async function startTestApi(name: string, env: Record<string, string> = {}): Promise<TestApi> {
  const prefix = `apitest-${name}-${process.pid}-${Date.now().toString(36)}`;
  const config = loadEnv({
    REDIS_URL,
    GOOSEHERD_REDIS_PREFIX: prefix,
    PORT: '0',
    HOST: '127.0.0.1',
    GOOSEHERD_API_KEYS: `alpha:${KEYS.alpha},beta:${KEYS.beta}`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  const app = await createApp(config, createLogger(config.LOG_LEVEL));
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const redis = new Redis(config.REDIS_URL, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    disconnectTimeout: 200,
  });
  redis.on('error', () => undefined);
  const worker = new WorkerStore(redis, { prefix, taskTtlSeconds: 3600 });

  return {
    url,
    wsUrl: url.replace(/^http/, 'ws') + '/v1/ws',
    prefix,
    app,
    worker,
    redis,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.key === undefined ? KEYS.alpha : options.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body = options.body;
      if (options.json !== undefined) {
        headers['content-type'] ??= 'application/json';
        body = JSON.stringify(options.json);
      }
      const res = await fetch(url + path, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (metrics, docs)
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async close() {
      await app.close();
      if (redis.status !== 'ready') return redis.disconnect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== '0');
      await redis.quit();
    },
  };
}

/** The segment job the store scheduled for an agent (what the API enqueued). */
export async function scheduledJob(api: TestApi, agentId: string): Promise<AgentSegmentJob> {
  for await (const job of api.worker.scheduledSegments()) if (job.agentId === agentId) return job;
  throw new Error(`no segment scheduled for ${agentId}`);
}

/**
 * Plays a worker running the agent's queued task: started, one token event per text, completed.
 * Events: queued (1, written at submit), started (2), tokens (3…), completed (last).
 */
export async function runTask(api: TestApi, agentId: string, texts: string[]): Promise<void> {
  const start = await api.worker.beginSegment(await scheduledJob(api, agentId), 'test-host:1');
  if (start.kind !== 'run') throw new Error(`segment did not start: ${start.kind}`);
  const tokens = texts.map((text, i) => ({ id: i + 1, text }));
  for (let i = 0; i < tokens.length; i++) await api.worker.appendTokens(start.lease, [tokens[i]], i + 1);
  await api.worker.finishTask(start.lease, {
    status: 'succeeded',
    finishReason: 'length',
    tokensIn: 3,
    tokensOut: tokens.length,
  });
}

/** Waits for `probe` to return something, with a deadline, never forever (the test kit's `waitFor`). */
export function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 5_000): Promise<T> {
  return waitForValue(() => probe(), { what, timeoutMs, intervalMs: 10 });
}

export type SseEvent = ServerSentEvent;

/** Reads an SSE response until the server ends it (or the deadline passes); returns its events. */
export async function readSse(
  res: Response,
  timeoutMs = 10_000,
): Promise<{ events: SseEvent[]; ended: boolean }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  const events: SseEvent[] = [];
  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    void reader.cancel();
  }, timeoutMs);
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = !timedOut;
        break;
      }
      events.push(...parser.push(decoder.decode(value, { stream: true })));
    }
  } finally {
    clearTimeout(deadline);
  }
  return { events, ended };
}

/**
 * The test kit's WebSocket client, read one frame at a time (each with a deadline). `frames` is this reader's
 * own list (a test may empty it to start over); `next()` reads it in order.
 */
export class TestSocket {
  readonly frames: Json[] = [];
  private read = 0;

  private constructor(private readonly socket: EventSocket) {
    // Frames that came with the upgrade arrived before this constructor ran: the kit's socket kept them.
    this.frames.push(...socket.frames);
    socket.ws.on('message', (data) => this.frames.push(JSON.parse(String(data))));
  }

  static async open(url: string): Promise<TestSocket> {
    return new TestSocket(await EventSocket.open(url, undefined));
  }

  get ws(): EventSocket['ws'] {
    return this.socket.ws;
  }

  get closed(): Promise<{ code: number; reason: string }> {
    return this.socket.waitForClose(10_000);
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next unread frame. */
  async next(timeoutMs = 5_000): Promise<Json> {
    const frame = await waitFor('a frame', () => this.frames[this.read], timeoutMs);
    this.read++;
    return frame;
  }

  close(): void {
    void this.socket.close();
  }
}
