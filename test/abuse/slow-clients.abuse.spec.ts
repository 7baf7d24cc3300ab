import * as fs from 'node:fs';
import * as net from 'node:net';
import WebSocket from 'ws';
import { exactLengthTask, sleep, useCluster } from '@gooseherd/test-kit';
import { Bystander } from './support/bystander';

// Clients that subscribe and never read, on a long finished task: the API keeps what it has not sent within a
// bound per key (it honours backpressure and drops the clients that are too far behind) instead of buffering
// every stream whole, and another tenant's live stream is served on time meanwhile.

const TOKENS = 4_096;
/** Finished tasks; every stalled WebSocket subscribes to all of them, each SSE client follows one. */
const TASKS = 4;
const SSE_CLIENTS = 40;
const WS_CLIENTS = 40;
/** The API's resident memory may grow at most this much (the budget of unsent bytes per key is 32 MiB). */
const MAX_GROWTH_MIB = 80;
/**
 * Bob's events reach his socket within this long of being stored while alice's clients stall (on a shared
 * 2-vCPU machine; 10 s were measured before the fix, about 3 s after: see test/abuse/README.md).
 */
const MAX_LATENCY_MS = 5_000;

function residentMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

/** An SSE request whose response is never read (the socket is paused before anything arrives). */
function stalledSse(port: number, key: string, taskId: string): net.Socket {
  const socket = net.connect(port, '127.0.0.1');
  socket.pause();
  socket.on('error', () => undefined);
  socket.write(
    `GET /v1/tasks/${taskId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`,
  );
  return socket;
}

/** A WebSocket that subscribes to the tasks and then stops reading. */
async function stalledSocket(wsUrl: string, key: string, taskIds: string[]): Promise<WebSocket> {
  const ws = new WebSocket(`${wsUrl}?token=${encodeURIComponent(key)}`);
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  for (const taskId of taskIds) ws.send(JSON.stringify({ type: 'subscribe', taskId }));
  (ws as unknown as { _socket: net.Socket })._socket.pause();
  return ws;
}

describe('clients that never read', () => {
  const cluster = useCluster({ workers: 1 });

  it(`${SSE_CLIENTS} SSE and ${WS_CLIENTS} WebSocket clients on ${TASKS} finished ${TOKENS}-token tasks hold bounded memory; bob streams on time`, async () => {
    const c = cluster();
    const agents = await Promise.all(Array.from({ length: TASKS }, () => c.alice.createAgent()));
    const tasks = await Promise.all(agents.map((a) => c.alice.submitTask(a.id, exactLengthTask(TOKENS))));
    const taskIds = tasks.map((t) => t.id);
    await Promise.all(taskIds.map((id) => c.alice.waitForSuccess(id, 600_000)));

    const bystander = await Bystander.start(c, { tokens: 600 });
    const before = residentMiB(c.api.pid);
    const sse = Array.from({ length: SSE_CLIENTS }, (_, i) =>
      stalledSse(c.apiPort, c.keys.alice, taskIds[i % TASKS]),
    );
    const sockets = await Promise.all(
      Array.from({ length: WS_CLIENTS }, () => stalledSocket(c.wsUrl, c.keys.alice, taskIds)),
    );
    let peak = before;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      peak = Math.max(peak, residentMiB(c.api.pid));
      await sleep(100);
    }
    const task = await bystander.verify(120_000);
    const latencies = bystander.receivedLatencies();
    const growth = peak - before;
    process.stdout.write(
      `slow clients: API RSS ${before.toFixed(0)} → peak ${peak.toFixed(0)} MiB (+${growth.toFixed(0)}); ` +
        `bob's ${task.tokensOut} tokens, latency max ${Math.max(...latencies)} ms\n`,
    );
    expect(growth).toBeLessThan(MAX_GROWTH_MIB);
    expect(Math.max(...latencies)).toBeLessThan(MAX_LATENCY_MS);
    for (const s of sse) s.destroy();
    for (const ws of sockets) ws.terminate();
    expect(c.api.running).toBe(true);
  });
});
