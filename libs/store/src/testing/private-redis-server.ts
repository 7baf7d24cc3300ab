import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Redis } from 'ioredis';

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface PrivateRedisServer {
  port: number;
  url: string;
  /** A client of its own (one retry), ready. */
  client: Redis;
  stop(): Promise<void>;
}

/**
 * A redis-server of this spec's own on a free port, for settings the shared Redis must not get
 * (`maxmemory`, replica mode, eviction policies). No persistence; its folder is removed on stop.
 */
export async function startPrivateRedisServer(args: string[] = []): Promise<PrivateRedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gh-store-redis-'));
  const port = await freePort();
  const server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--dir', dir, ...args],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  // Retries while the server starts; fails the spec after about 5 s.
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 50, retryStrategy: () => 100 });
  await client.ping();
  client.options.maxRetriesPerRequest = 1;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    async stop() {
      client.disconnect();
      server.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
