import type { AgentView, TaskEvent, TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  LONG,
  sequenceProblems,
  sleep,
  streamedText,
  useCluster,
  waitFor,
} from '@gooseherd/test-kit';
import { Rng, logFindings, report, since, spread, tally } from './kit/chaos-run';
import { ResilientSubscriber } from './kit/followers';
import { MonitorTap } from './kit/redis-monitor';
import {
  auditAgent,
  auditTaskLog,
  durableOutputProblems,
  durableTaskLog,
  taskStates,
  textDiff,
} from './kit/task-audit';

// Redis is restarted (SIGTERM, so its append-only file is flushed, then a new redis-server on the same port
// and directory) while tasks stream and clients keep submitting. Whatever Redis acknowledged survives: every
// task that got its 202 completes, every event and checkpoint written before the restart is still there, and
// the API and the workers reconnect by themselves (no process is restarted). Submissions during the outage
// are refused with 503, never half-accepted.

const AGENTS = LONG ? 16 : 6;
const TOKENS = LONG ? 2_500 : 900;
/** Short tasks submitted throughout, to agents chosen at random (they queue behind the long ones). */
const TRICKLE_TOKENS = 60;
const TRICKLE_EVERY_MS = 300;
const RESTARTS = LONG ? 4 : 1;
const OUTAGE_MS = { min: 1_500, max: 3_000 };

describe('Redis restarted mid-run', () => {
  const cluster = useCluster({
    workers: 2,
    appendOnly: true,
    leaseMs: 2_000,
    checkpointTokens: 32,
    segmentTokens: 256,
  });

  it(`keeps every acknowledged task and checkpoint over ${RESTARTS} restart(s); all complete`, async () => {
    const c = cluster();
    const rng = new Rng();
    const prefix = c.settings.prefix;
    const t0 = Date.now();
    const clients = [1, 2].map((i) => new ResilientSubscriber(c.wsUrl, c.keys.alice, `ws-${i}`));
    const agents: AgentView[] = await Promise.all(
      Array.from({ length: AGENTS }, () => c.alice.createAgent()),
    );
    const accepted: { taskId: string; agentIndex: number; tokens: number; client: ResilientSubscriber }[] =
      [];
    const accept = (taskId: string, agentIndex: number, tokens: number) => {
      const client = clients[accepted.length % clients.length];
      client.follow(taskId);
      accepted.push({ taskId, agentIndex, tokens, client });
    };
    for (let a = 0; a < AGENTS; a++) {
      const task = await c.alice.submitTask(agents[a].id, exactLengthTask(TOKENS, `Long ${a}.`));
      accept(task.id, a, TOKENS);
    }

    // Submissions keep coming during the restarts: a 202 is a promise, anything else is a refusal.
    const refused: string[] = [];
    let trickling = true;
    const trickle = (async () => {
      while (trickling) {
        const a = rng.int(0, AGENTS - 1);
        try {
          const res = await c.alice.request<{ id: string }>(
            'POST',
            `/v1/agents/${agents[a].id}/tasks`,
            exactLengthTask(TRICKLE_TOKENS, `Short ${accepted.length}.`),
            { timeoutMs: 10_000 },
          );
          if (res.status === 202) accept(res.body.id, a, TRICKLE_TOKENS);
          else refused.push(`HTTP ${res.status}`);
        } catch (err) {
          refused.push(err instanceof Error ? err.name : 'error');
        }
        await sleep(TRICKLE_EVERY_MS);
      }
    })();

    const restarts: Record<string, unknown>[] = [];
    const lateWrites: { taskId: string; at: string; tokensOut: number; restart: number }[] = [];
    const problems: string[] = [];
    try {
      for (let r = 0; r < RESTARTS; r++) {
        await sleep(rng.int(1_500, 3_000));
        const redis = c.redis.redis();
        // What Redis holds just before it goes: every log so far must still be there, as a prefix, after.
        const ids = accepted.map((s) => s.taskId);
        const before = new Map<string, TaskEvent[]>();
        for (const id of ids) before.set(id, await durableTaskLog(redis, prefix, id));
        const statesBefore = await taskStates(redis, prefix, ids);
        const versionsBefore = await Promise.all(
          agents.map((a) => redis.hget(`${prefix}:agent:${a.id}`, 'stateVersion')),
        );
        const downAt = Date.now();
        await c.redis.shutdown();
        const goneAt = c.redis.process.exitedAt ?? Date.now();
        const outage = rng.int(OUTAGE_MS.min, OUTAGE_MS.max);
        const readyz = await c.anonymous.request('GET', '/readyz', undefined, { timeoutMs: 5_000 });
        await sleep(Math.max(0, outage - since(downAt)));
        await c.redis.restart();
        const redisBackMs = since(downAt);
        // Witness for the first seconds back: token writes the workers sent before Redis went and that it
        // executes only now (sent again after the connection broke: ioredis resends unanswered commands).
        const tap = await MonitorTap.start(c.redis.port, 'all');
        const tapStopped = sleep(3_000).then(() => {
          tap.stop();
          for (const call of tap.calls) {
            const [, , , , now, , , taskId, , tokensOut] = call.args;
            const appendsTokens = call.ran.some((x) => x.command === 'APPEND' && x.key.endsWith(':ids'));
            if (appendsTokens && Date.parse(now) < goneAt) {
              lateWrites.push({ taskId, at: now, tokensOut: Number(tokensOut), restart: r + 1 });
            }
          }
        });
        await c.waitForReady(60_000);
        const apiReadyMs = since(downAt);

        const after = c.redis.redis();
        let checkpointsKept = 0;
        let eventsKept = 0;
        for (const [id, log] of before) {
          const now = await durableTaskLog(after, prefix, id);
          const prefixOk = JSON.stringify(now.slice(0, log.length)) === JSON.stringify(log);
          if (!prefixOk)
            problems.push(`task ${id}: restart ${r + 1} lost or changed events of the first ${log.length}`);
          eventsKept += log.length;
          checkpointsKept += log.filter((e) => e.kind === 'checkpoint').length;
        }
        const versionsAfter = await Promise.all(
          agents.map((a) => after.hget(`${prefix}:agent:${a.id}`, 'stateVersion')),
        );
        versionsAfter.forEach((v, i) => {
          if (Number(v) < Number(versionsBefore[i])) {
            problems.push(
              `agent ${agents[i].id}: stateVersion ${versionsBefore[i]} → ${v} over restart ${r + 1}`,
            );
          }
        });
        await tapStopped;
        restarts.push({
          atMs: downAt - t0,
          outageMs: redisBackMs,
          apiReadyMs,
          readyzWhileDown: readyz.status,
          tasksAcknowledged: ids.length,
          running: [...statesBefore.values()].filter((s) => s.status === 'running').length,
          eventsKept,
          checkpointsKept,
        });
      }
      await sleep(2_000);
    } finally {
      trickling = false;
      await trickle;
    }

    // The workers and the API were never restarted: they reconnected on their own.
    expect(c.workers.filter((w) => !w.running).map((w) => w.describe())).toEqual([]);
    expect(c.api.running).toBe(true);

    const ids = accepted.map((s) => s.taskId);
    const redis = c.redis.redis();
    const finishedAt = await waitFor(
      async (seen) => {
        const states = await taskStates(redis, prefix, ids);
        const open = [...states.values()].filter((s) => s.status === 'queued' || s.status === 'running');
        seen(`${open.length} of ${ids.length} acknowledged tasks unfinished`);
        return open.length === 0 && Date.now();
      },
      { timeoutMs: LONG ? 600_000 : 180_000, what: 'every acknowledged task to finish', intervalMs: 500 },
    );
    await Promise.all(clients.map((client) => client.waitForAll(30_000)));

    const records = new Map<string, TaskView>();
    const logs = new Map<string, TaskEvent[]>();
    let resumes = 0;
    const repeated: string[] = [];
    for (const s of accepted) {
      const task = await c.alice.getTask(s.taskId);
      const log = await durableTaskLog(redis, prefix, s.taskId);
      records.set(s.taskId, task);
      logs.set(s.taskId, log);
      const audit = auditTaskLog(log, task);
      resumes += audit.resumes;
      for (const rep of audit.repeated) {
        const late = lateWrites.find((w) => w.taskId === s.taskId && w.at === rep.at);
        repeated.push(
          `${s.taskId} seq ${rep.seq}: token ${rep.index} ${rep.sameWrite ? 'same write applied twice' : 'repeated'}` +
            (late ? `, the second time after restart ${late.restart} (a write from before the outage)` : ''),
        );
      }
      const own = [...audit.problems, ...(await durableOutputProblems(redis, prefix, task))];
      if (task.tokensOut !== s.tokens) own.push(`tokensOut ${task.tokensOut}, asked for ${s.tokens}`);
      const got = s.client.events(s.taskId);
      own.push(...sequenceProblems(got).map((p) => `${s.client.name}: ${p}`));
      const text = streamedText(got);
      if (text !== task.output) own.push(`${s.client.name}: streamed text ${textDiff(text, task.output)}`);
      problems.push(...own.map((p) => `task ${s.taskId}: ${p}`));
    }
    for (let a = 0; a < AGENTS; a++) {
      const mine = accepted.filter((s) => s.agentIndex === a);
      problems.push(
        ...auditAgent(
          agents[a],
          await c.alice.getAgent(agents[a].id),
          mine.map((s) => ({ task: records.get(s.taskId)!, log: logs.get(s.taskId)! })),
        ),
      );
    }

    const tasks = [...records.values()];
    const result = {
      seed: rng.seed,
      tasksAcknowledged: tasks.length,
      longTasks: AGENTS,
      shortTasksAcknowledged: tasks.length - AGENTS,
      submissionsRefused: tally(refused),
      tokens: tasks.reduce((n, t) => n + t.tokensOut, 0),
      redisRestarts: restarts.length,
      restarts,
      resumes,
      attempts: tally(tasks.map((t) => `attempts=${t.attempts}`)),
      finishedAfterLastRestartMs: finishedAt - t0 - Number(restarts[restarts.length - 1]?.atMs ?? 0),
      clientReconnects: clients.map((client) => client.reconnects),
      clientRefusedSubscribes: clients.map((client) => client.refusedSubscribes),
      tokenEventsWrittenTwice: repeated,
      preOutageTokenWritesExecutedAfterRestart: lateWrites.length,
      lost: tasks.filter((t) => t.status !== 'succeeded').map((t) => `${t.id} ${t.status} ${t.error ?? ''}`),
      problems: problems.length,
      runMs: since(t0),
      taskDurationsMs: spread(tasks.map((t) => Date.parse(t.finishedAt ?? '') - Date.parse(t.createdAt))),
      logFindings: logFindings([c.api, ...c.workers]),
    };
    report('redis-restart', result);
    await Promise.all(clients.map((client) => client.close()));

    expect(problems.slice(0, 30)).toEqual([]);
    expect(result.lost).toEqual([]);
    for (const r of restarts) expect(r.readyzWhileDown).toBe(503);
  });
});
