/**
 * Event fan-out cost: Redis commands per second caused by N SSE followers of one running task, for N = 1, 100
 * and 1,000 (one API instance, one worker, a private redis-server). Per phase: a new 4,096-token task starts,
 * N followers attach while it runs, and `INFO commandstats` is read before and after a window; the figures
 * are the deltas per second, by command. Run: `npm run build && npx tsx test/load/fanout-bench.ts`.
 *
 *   --followers L   comma-separated follower counts (default 1,100,1000)
 *   --seconds N     measuring window per phase (default 5)
 */
import * as net from 'node:net';
import { parseArgs } from 'node:util';
import { Keys } from '@gooseherd/store';
import { exactLengthTask, GooseherdCluster, sleep, waitFor } from '@gooseherd/test-kit';

const { values: args } = parseArgs({
  options: {
    followers: { type: 'string', default: '1,100,1000' },
    seconds: { type: 'string', default: '5' },
  },
});
const FOLLOWER_COUNTS = args.followers.split(',').map(Number);
const SECONDS = Number(args.seconds);

/** An SSE follower that reads and discards everything (a raw socket: 1,000 of them cost the bench little). */
function follower(port: number, key: string, taskId: string, after: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  socket.write(
    `GET /v1/tasks/${taskId}/events?after=${after} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${key}\r\n\r\n`,
  );
  return socket;
}

/** Status and tokens of a task, read from Redis (the API may be saturated by its followers). */
async function taskState(
  cluster: GooseherdCluster,
  taskId: string,
): Promise<{ status: string; tokensOut: number }> {
  const [status, tokensOut] = await cluster.redis
    .redis()
    .hmget(new Keys(cluster.settings.prefix).task(taskId), 'status', 'tokensOut');
  return { status: status ?? '', tokensOut: Number(tokensOut ?? 0) };
}

async function commandCalls(cluster: GooseherdCluster): Promise<Map<string, number>> {
  const info = (await cluster.redis.redis().info('commandstats')) as string;
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_(\S+?):calls=(\d+)/gm)) calls.set(match[1], Number(match[2]));
  return calls;
}

async function main(): Promise<void> {
  const cluster = await GooseherdCluster.start({ workers: 1 });
  const rows: string[] = [];
  try {
    for (const count of FOLLOWER_COUNTS) {
      const agent = await cluster.alice.createAgent();
      const task = await cluster.alice.submitTask(agent.id, exactLengthTask(4_096));
      // Followers attach before the task runs (the API may be slow to answer with 1,000 of them).
      const sockets: net.Socket[] = [];
      for (let i = 0; i < count; i++) sockets.push(follower(cluster.apiPort, cluster.keys.alice, task.id, 0));
      await waitFor(async () => (await taskState(cluster, task.id)).tokensOut > 0, {
        timeoutMs: 120_000,
        what: 'the task to stream tokens',
      });
      await sleep(2_000);
      const before = await commandCalls(cluster);
      const tokensBefore = (await taskState(cluster, task.id)).tokensOut;
      const started = Date.now();
      await sleep(SECONDS * 1_000);
      const after = await commandCalls(cluster);
      const state = await taskState(cluster, task.id);
      const elapsed = (Date.now() - started) / 1000;
      if (state.status !== 'running') throw new Error(`the task ended (${state.status}) during the window`);
      const rate = (name: string) => ((after.get(name) ?? 0) - (before.get(name) ?? 0)) / elapsed;
      const total = [...after.keys()].reduce((sum, name) => sum + rate(name), 0);
      const tokensPerS = (state.tokensOut - tokensBefore) / elapsed;
      rows.push(
        `| ${count} | ${rate('xrange').toFixed(0)} | ${rate('xread').toFixed(0)} | ${total.toFixed(0)} | ${tokensPerS.toFixed(0)} |`,
      );
      process.stdout.write(`${rows[rows.length - 1]}\n`);
      for (const s of sockets) s.destroy();
      await cluster.alice.request('POST', `/v1/tasks/${task.id}/cancel`, undefined, { timeoutMs: 120_000 });
    }
  } finally {
    await cluster.stop();
  }
  process.stdout.write(
    `\n| SSE followers | XRANGE/s | XREAD/s | all commands/s | tokens/s |\n| ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
