import type { TaskEvent, TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  LONG,
  readTaskEventStream,
  sequenceProblems,
  sleep,
  streamedText,
  useCluster,
} from '@gooseherd/test-kit';
import { Rng, logFindings, report, since, spread } from './kit/chaos-run';
import { ResilientSubscriber, followSse } from './kit/followers';
import { auditTaskLog, durableTaskLog, textDiff } from './kit/task-audit';

// The API is stateless: restarting it (SIGTERM, then a new process on the same port) while clients watch
// running tasks costs them a reconnect, nothing else. WebSocket clients resubscribe with `after` = the last seq
// they saw, SSE clients send Last-Event-ID; each ends up with exactly the task's full log: no gap, no repeat.

const TASKS = LONG ? 24 : 6;
const TOKENS = LONG ? 3_000 : 1_000;
const RESTARTS = LONG ? 6 : 2;
const WS_CLIENTS = 2;
/** Tasks that also have a live SSE follower. */
const SSE_TASKS = LONG ? 8 : 4;

describe('the API restarted while clients follow running tasks', () => {
  const cluster = useCluster({ workers: 2, leaseMs: 2_000, segmentTokens: 256 });

  it(`loses no event for WebSocket and SSE clients over ${RESTARTS} restarts`, async () => {
    const c = cluster();
    const rng = new Rng();
    const t0 = Date.now();
    const agents = await Promise.all(Array.from({ length: TASKS }, () => c.alice.createAgent()));
    const tasks = await Promise.all(
      agents.map((a, i) => c.alice.submitTask(a.id, exactLengthTask(TOKENS, `Go ${i}.`))),
    );
    const taskIds = tasks.map((t) => t.id);

    // Every task is followed by each WebSocket client, and some by an SSE client too.
    const clients = Array.from(
      { length: WS_CLIENTS },
      (_, i) => new ResilientSubscriber(c.wsUrl, c.keys.alice, `ws-${i + 1}`),
    );
    for (const client of clients) taskIds.forEach((id) => client.follow(id));
    const sse = taskIds
      .slice(0, SSE_TASKS)
      .map((id) => ({ id, follow: followSse(c.baseUrl, c.keys.alice, id, LONG ? 600_000 : 180_000) }));

    const restarts: { atMs: number; exitMs: number; downMs: number; exit: string; running: number }[] = [];
    for (let r = 0; r < RESTARTS; r++) {
      await sleep(rng.int(500, 1_500));
      const before = await Promise.all(taskIds.map((id) => c.alice.getTask(id)));
      const running = before.filter((t) => t.status === 'running').length;
      const { exit, exitMs, downMs } = await c.restartApi();
      restarts.push({
        atMs: since(t0),
        exitMs,
        downMs,
        exit: exit.signal ?? `code ${exit.code}`,
        running,
      });
    }

    await Promise.all(clients.map((client) => client.waitForAll(LONG ? 600_000 : 180_000)));
    const sseResults = await Promise.all(sse.map(async (s) => ({ id: s.id, ...(await s.follow) })));
    const runMs = since(t0);

    const problems: string[] = [];
    const finals: TaskView[] = [];
    let eventsPerClient = 0;
    for (const id of taskIds) {
      const task = await c.alice.getTask(id);
      finals.push(task);
      const durable = await durableTaskLog(c.redis.redis(), c.settings.prefix, id);
      eventsPerClient += durable.length;
      problems.push(...auditTaskLog(durable, task).problems.map((p) => `task ${id}: durable ${p}`));
      // The full replay over SSE after the fact is the reference every live client must match exactly.
      const replay = await readTaskEventStream(c.baseUrl, c.keys.alice, id, { timeoutMs: 30_000 });
      const reference = replay.messages.map((m) => m.taskEvent);
      if (JSON.stringify(reference) !== JSON.stringify(durable)) {
        problems.push(`task ${id}: the SSE replay (${reference.length} events) differs from the durable log`);
      }
      const live: [string, TaskEvent[]][] = clients.map((client) => [client.name, client.events(id)]);
      const sseLive = sseResults.find((s) => s.id === id);
      if (sseLive) live.push(['sse', sseLive.events]);
      for (const [name, events] of live) {
        problems.push(...sequenceProblems(events).map((p) => `task ${id}: ${name}: ${p}`));
        const text = streamedText(events);
        if (text !== task.output)
          problems.push(`task ${id}: ${name}: streamed text ${textDiff(text, task.output)}`);
        if (JSON.stringify(events) !== JSON.stringify(reference)) {
          problems.push(`task ${id}: ${name}: ${events.length} events, the replay has ${reference.length}`);
        }
      }
    }

    const findings = logFindings([...c.retiredApis, c.api, ...c.workers]);
    const result = {
      seed: rng.seed,
      tasks: finals.length,
      tokens: finals.reduce((n, t) => n + t.tokensOut, 0),
      apiRestarts: restarts.length,
      restarts,
      apiExitMs: spread(restarts.map((r) => r.exitMs)),
      apiDownMs: spread(restarts.map((r) => r.downMs)),
      wsClients: clients.length,
      wsReconnects: clients.map((client) => client.reconnects),
      wsRefusedSubscribes: clients.map((client) => client.refusedSubscribes),
      sseFollowers: sseResults.length,
      sseReconnects: sseResults.map((s) => s.reconnects),
      eventsPerClient: eventsPerClient,
      lost: finals.filter((t) => t.status !== 'succeeded').map((t) => `${t.id} ${t.status}`),
      problems: problems.length,
      runMs,
      logFindings: findings,
    };
    report('api-restart', result);
    await Promise.all(clients.map((client) => client.close()));

    expect(problems.slice(0, 30)).toEqual([]);
    expect(result.lost).toEqual([]);
    // SIGTERM stops the API by itself, promptly: NestJS re-raises the signal once its shutdown hooks ran (so
    // it exits "by SIGTERM"), and the harness never had to SIGKILL it.
    for (const r of restarts) {
      expect(['SIGTERM', 'code 0']).toContain(r.exit);
      expect(r.exitMs).toBeLessThan(5_000);
    }
    // The restarts really cut the clients off while the tasks ran.
    for (const client of clients) expect(client.reconnects).toBeGreaterThanOrEqual(RESTARTS);
    expect(restarts[0].running).toBeGreaterThan(0);
  });
});
