import * as net from 'node:net';
import * as path from 'node:path';
import { Redis } from 'ioredis';
import { StopWaiting, waitFor } from './deadline.js';
import { ManagedProcess, freePort } from './managed-process.js';

export interface PrivateRedisOptions {
  /** Directory for the log and, with appendOnly, the append-only file. */
  dir: string;
  /** Persist writes to an append-only file in `dir`, so a restart on the same port keeps the data. */
  appendOnly?: boolean;
  /** More redis-server arguments (`['--maxmemory-policy', 'allkeys-lru']`). */
  args?: string[];
}

/** Whether something on 127.0.0.1:port answers a RESP PING (within `timeoutMs`). */
export function redisAnswersPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString('latin1').startsWith('+PONG')));
  });
}

/**
 * A redis-server of this test file's own, on a free port, so tests never see another suite's keys. It can be
 * paused (SIGSTOP: connections stay open, nothing answers), shut down and restarted on the same port.
 */
export class PrivateRedis {
  process!: ManagedProcess;
  private client: Redis | undefined;
  private starts = 0;

  private constructor(
    readonly port: number,
    private readonly options: PrivateRedisOptions,
  ) {}

  static async start(options: PrivateRedisOptions): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort(), options);
    await redis.launch();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private async launch(): Promise<void> {
    this.starts += 1;
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      this.options.dir,
    ];
    args.push('--appendonly', this.options.appendOnly ? 'yes' : 'no', ...(this.options.args ?? []));
    this.process = ManagedProcess.spawn(`redis-server:${this.port}#${this.starts}`, 'redis-server', args, {
      env: process.env,
      logPath: path.join(this.options.dir, 'redis.log'),
    });
    await waitFor(
      async () => {
        if (!this.process.running) throw new StopWaiting(`redis-server exited: ${this.process.tail(5)}`);
        return redisAnswersPing(this.port);
      },
      { timeoutMs: 10_000, what: `redis-server on port ${this.port} to answer PING` },
    );
  }

  /** SIGSTOP: the server keeps its sockets but answers nothing until resume(). */
  pause(): void {
    this.process.kill('SIGSTOP');
  }

  resume(): void {
    this.process.kill('SIGCONT');
  }

  /** Graceful shutdown (SIGTERM: the append-only file is flushed); clients see their connections close. */
  async shutdown(): Promise<void> {
    await this.dropClient();
    await this.process.stop(10_000);
  }

  /** Starts redis-server again on the same port and directory (same data when appendOnly). */
  async restart(): Promise<void> {
    if (this.process.running) await this.shutdown();
    await this.launch();
  }

  /** A client for inspecting keys; created on first use. */
  redis(): Redis {
    this.client ??= new Redis(this.url, { maxRetriesPerRequest: 1, lazyConnect: false });
    return this.client;
  }

  /** Every key matching a glob pattern (SCAN, never KEYS). */
  async scanKeys(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis().scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys.sort();
  }

  /** `MEMORY USAGE key SAMPLES 0` (exact) and TYPE of each key. */
  async keyFootprints(keys: string[]): Promise<{ key: string; type: string; bytes: number }[]> {
    const out: { key: string; type: string; bytes: number }[] = [];
    for (const key of keys) {
      const type = await this.redis().type(key);
      const bytes = Number(await this.redis().call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      out.push({ key, type, bytes });
    }
    return out;
  }

  async stop(): Promise<void> {
    await this.dropClient();
    if (this.process.running) await this.process.stop(5_000);
  }

  private async dropClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) client.disconnect();
  }
}
