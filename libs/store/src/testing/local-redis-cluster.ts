import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Cluster } from 'ioredis';

/**
 * A throwaway 3-node Redis Cluster (Debian's redis-server, no replicas, nothing persisted) for tests: each node on a
 * free port whose cluster bus port (+10000) is free too, joined with `redis-cli --cluster create`.
 */
export class LocalRedisCluster {
  private constructor(
    readonly ports: number[],
    private readonly nodes: ChildProcess[],
    private readonly dir: string,
  ) {}

  static async start(size = 3): Promise<LocalRedisCluster> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'gh-redis-cluster-'));
    const ports: number[] = [];
    while (ports.length < size) {
      const port = 20_000 + Math.floor(Math.random() * 30_000);
      if (!ports.includes(port) && (await portFree(port)) && (await portFree(port + 10_000)))
        ports.push(port);
    }
    const nodes = ports.map((port) =>
      spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, `nodes-${port}.conf`),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new LocalRedisCluster(ports, nodes, dir);
    try {
      await until(
        async () => (await Promise.all(ports.map(pingable))).every(Boolean),
        10_000,
        'nodes to start',
      );
      const created = spawnSync(
        'redis-cli',
        [
          '--cluster',
          'create',
          ...ports.map((p) => `127.0.0.1:${p}`),
          '--cluster-replicas',
          '0',
          '--cluster-yes',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      if (created.status !== 0)
        throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      await until(
        async () =>
          ports.every((p) =>
            spawnSync('redis-cli', ['-p', String(p), 'cluster', 'info'], {
              encoding: 'utf8',
            }).stdout.includes('cluster_state:ok'),
          ),
        30_000,
        'the cluster to agree (cluster_state:ok)',
      );
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  client(): Cluster {
    return new Cluster(
      this.ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) if (alive(node)) node.kill('SIGTERM');
    await Promise.all(
      this.nodes.map((node) =>
        !alive(node) ? undefined : new Promise<void>((resolve) => node.once('exit', () => resolve())),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function pingable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (chunk) => {
      socket.destroy();
      resolve(chunk.toString('latin1').startsWith('+PONG'));
    });
  });
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(node: ChildProcess): boolean {
  return node.exitCode === null && node.signalCode === null;
}
