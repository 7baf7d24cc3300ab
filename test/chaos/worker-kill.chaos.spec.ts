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
import { Rng, logFindings, report, since, spread, tally, workerNamed } from './kit/chaos-run';
import { ResilientSubscriber } from './kit/followers';
import {
  attemptTimeline,
  auditAgent,
  auditTaskLog,
  durableOutputProblems,
  durableTaskLog,
  taskStates,
  textDiff,
} from './kit/task-audit';

// Workers die (SIGKILL, no clean-up) one after another while many tasks run across them; a replacement starts
// after each kill, so three stay. Nothing acknowledged is lost: every task completes once, each client's stream
// is exactly the task's output, no task ever had two holders writing at once, and a resume redoes at most the
// tokens since the last checkpoint, which it feeds again instead of sampling anew.

const AGENTS = LONG ? 50 : 15;
const TASKS_PER_AGENT = 2;
const TOKENS = LONG ? { min: 300, max: 800 } : { min: 100, max: 250 };
/** Time from one kill to the next (the replacement's start-up counts in it). */
const KILL_EVERY_MS = { min: 2_000, max: 4_000 };
/** Kills also come at least this often over the run, spread by progress (see the monkey). */
const MIN_KILLS = LONG ? 25 : 6;
const WORKERS = 3;
const CHECKPOINT_TOKENS = 32;
const LEASE_MS = 2_000;

interface Kill {
  worker: string;
  atMs: number;
  /** From the signal to the replacement consuming the queue. */
  replaceMs: number;
  /** Tasks the victim held when it died and their durable tokensOut read after it exited. */
  held: { taskId: string; tokensOut: number }[];
}

describe('workers killed at random while tasks run', () => {
  const cluster = useCluster({
    workers: WORKERS,
    leaseMs: LEASE_MS,
    checkpointTokens: CHECKPOINT_TOKENS,
    // Segments end and move between workers too, so kills also land between segments.
    segmentTokens: 128,
  });

  it(`completes all ${AGENTS * TASKS_PER_AGENT} tasks exactly once, streams match outputs, resumes redo little`, async () => {
    const c = cluster();
    const rng = new Rng();
    const redis = c.redis.redis();
    const prefix = c.settings.prefix;
    const t0 = Date.now();

    const clients = [1, 2, 3].map((i) => new ResilientSubscriber(c.wsUrl, c.keys.alice, `ws-${i}`));
    const agents: AgentView[] = [];
    for (let i = 0; i < AGENTS; i++) agents.push(await c.alice.createAgent());
    const submitted: { agentIndex: number; taskId: string; client: ResilientSubscriber; tokens: number }[] =
      [];
    for (let round = 0; round < TASKS_PER_AGENT; round++) {
      for (let a = 0; a < AGENTS; a++) {
        const tokens = rng.int(TOKENS.min, TOKENS.max);
        const accepted = await c.alice.submitTask(
          agents[a].id,
          exactLengthTask(tokens, `Task ${round} of ${a}.`),
        );
        const client = clients[submitted.length % clients.length];
        client.follow(accepted.id);
        submitted.push({ agentIndex: a, taskId: accepted.id, client, tokens });
      }
    }
    const taskIds = submitted.map((s) => s.taskId);

    // The monkey: every few seconds, SIGKILL a worker at random and start a replacement. Replacements boot in
    // the background (seconds, on a busy machine), one at a time, so kills keep their pace; a kill needs two
    // workers serving, so one always survives.
    const kills: Kill[] = [];
    const serving = new Set(c.workers);
    let replacing: Promise<unknown> = Promise.resolve();
    let stopMonkey = false;
    const totalTokens = submitted.reduce((n, s) => n + s.tokens, 0);
    const durableTokens = async () =>
      [...(await taskStates(redis, prefix, taskIds)).values()].reduce((n, st) => n + st.tokensOut, 0);
    const monkey = (async () => {
      let next = Date.now() + rng.int(KILL_EVERY_MS.min, KILL_EVERY_MS.max);
      let progressAtLastKill = 0;
      while (!stopMonkey) {
        await sleep(100);
        // A kill is due every few seconds, or sooner when the tasks have advanced by a share of the work (a
        // fast machine would otherwise finish between two kills).
        const progress = await durableTokens();
        const due = Date.now() >= next || progress - progressAtLastKill >= totalTokens / (MIN_KILLS + 1);
        const candidates = [...serving].filter((w) => w.running);
        if (stopMonkey || !due || candidates.length < 2) continue;
        progressAtLastKill = progress;
        next = Date.now() + rng.int(KILL_EVERY_MS.min, KILL_EVERY_MS.max);
        const victim = rng.pick(candidates);
        serving.delete(victim);
        const kill: Kill = { worker: victim.name, atMs: since(t0), replaceMs: 0, held: [] };
        kills.push(kill);
        victim.kill('SIGKILL');
        await victim.waitForExit(10_000);
        // The victim is dead: what it made durable is final. Which running tasks did it hold?
        const states = await taskStates(redis, prefix, taskIds);
        for (const [taskId, st] of states) {
          if (st.status === 'running' && workerNamed([victim], st.worker)) {
            kill.held.push({ taskId, tokensOut: st.tokensOut });
          }
        }
        replacing = replacing.then(async () => {
          serving.add(await c.startWorker());
          kill.replaceMs = since(t0) - kill.atMs;
        });
      }
    })();

    try {
      await waitFor(
        async (seen) => {
          const states = await taskStates(redis, prefix, taskIds);
          const open = [...states.values()].filter(
            (s) => !['succeeded', 'failed', 'cancelled'].includes(s.status),
          );
          seen(`${open.length} of ${taskIds.length} tasks unfinished after ${kills.length} kills`);
          return open.length === 0;
        },
        { timeoutMs: LONG ? 900_000 : 200_000, what: 'every task to finish', intervalMs: 500 },
      );
    } finally {
      stopMonkey = true;
      await monkey;
      await replacing;
    }
    const runMs = since(t0);
    await Promise.all(clients.map((client) => client.waitForAll(30_000)));

    // Audit every task from its durable log in Redis and from what its client received.
    const problems: string[] = [];
    const recomputed: number[] = [];
    const recomputedBounded: number[] = [];
    const chainedResumes: string[] = [];
    const records = new Map<string, TaskView>();
    const logs = new Map<string, TaskEvent[]>();
    let resumes = 0;
    const repeated: string[] = [];
    for (const s of submitted) {
      const task = await c.alice.getTask(s.taskId);
      const log = await durableTaskLog(redis, prefix, s.taskId);
      records.set(s.taskId, task);
      logs.set(s.taskId, log);
      const audit = auditTaskLog(log, task);
      resumes += audit.resumes;
      if (audit.repeatedIndices > 0) repeated.push(`${s.taskId}: ${audit.repeatedIndices}`);
      recomputed.push(...audit.recomputed);
      recomputedBounded.push(...audit.recomputedAfterCheckpointedAttempt);
      if (audit.recomputed.length > audit.recomputedAfterCheckpointedAttempt.length) {
        chainedResumes.push(
          `${s.taskId}: recomputed ${JSON.stringify(audit.recomputed)}: ${attemptTimeline(log)}`,
        );
      }
      const own = [
        ...audit.problems,
        ...(await durableOutputProblems(redis, prefix, task)),
        ...(task.tokensOut === s.tokens ? [] : [`tokensOut ${task.tokensOut}, asked for ${s.tokens}`]),
      ];
      const got = s.client.events(s.taskId);
      own.push(...sequenceProblems(got).map((p) => `${s.client.name}: ${p}`));
      const text = streamedText(got);
      if (text !== task.output) own.push(`${s.client.name}: streamed text ${textDiff(text, task.output)}`);
      if (JSON.stringify(got) !== JSON.stringify(log)) {
        own.push(`${s.client.name}: ${got.length} events received, the durable log has ${log.length}`);
      }
      // The tokens durable when a holder died are never lost: the next attempt resumes at or after them.
      for (const kill of kills) {
        const held = kill.held.find((h) => h.taskId === s.taskId);
        if (!held) continue;
        const resumedAfter = log.find(
          (e) =>
            e.kind === 'resumed' && Date.parse(e.at) >= t0 + kill.atMs && e.data && 'fromToken' in e.data,
        );
        const from = resumedAfter ? (resumedAfter.data as { fromToken: number }).fromToken : undefined;
        if (from !== undefined && from < held.tokensOut - CHECKPOINT_TOKENS) {
          own.push(`resumed from token ${from} after ${kill.worker} died with ${held.tokensOut} durable`);
        }
      }
      problems.push(...own.map((p) => `task ${s.taskId}: ${p}`));
    }
    for (let a = 0; a < AGENTS; a++) {
      const mine = submitted.filter((s) => s.agentIndex === a);
      problems.push(
        ...auditAgent(
          agents[a],
          await c.alice.getAgent(agents[a].id),
          mine.map((s) => ({ task: records.get(s.taskId)!, log: logs.get(s.taskId)! })),
        ),
      );
    }

    const tasks = [...records.values()];
    const findings = logFindings([...c.workers, c.api]);
    const result = {
      seed: rng.seed,
      tasks: tasks.length,
      agents: AGENTS,
      tokens: tasks.reduce((n, t) => n + t.tokensOut, 0),
      workersAlive: WORKERS,
      workersStarted: c.workers.length,
      kills: kills.length,
      replaceMs: spread(kills.map((k) => k.replaceMs)),
      killsHoldingTasks: kills.filter((k) => k.held.length > 0).length,
      tasksHeldAtKills: kills.reduce((n, k) => n + k.held.length, 0),
      resumes,
      tasksResumed: tasks.filter((t) => t.attempts > 1).length,
      attempts: tally(tasks.map((t) => `attempts=${t.attempts}`)),
      recomputedTokens: spread(recomputed),
      recomputedAfterCheckpointedAttempt: spread(recomputedBounded),
      resumesAfterAnAttemptWithoutCheckpoint: chainedResumes.length,
      examples: chainedResumes.slice(0, 3),
      resumesRecomputingMoreThanCheckpointInterval: recomputed.filter((r) => r > CHECKPOINT_TOKENS).length,
      checkpointTokens: CHECKPOINT_TOKENS,
      clientReconnects: clients.map((client) => client.reconnects),
      tokenEventsWrittenTwice: repeated,
      lost: tasks.filter((t) => t.status !== 'succeeded').map((t) => `${t.id} ${t.status}`),
      problems: problems.length,
      runMs,
      logFindings: findings,
    };
    report('worker-kill', result);
    await Promise.all(clients.map((client) => client.close()));

    expect(problems.slice(0, 30)).toEqual([]);
    expect(result.lost).toEqual([]);
    expect(kills.length).toBeGreaterThanOrEqual(MIN_KILLS / 2);
    expect(resumes).toBeGreaterThanOrEqual(1);
    // A resume feeds again at most the checkpoint interval (a resumed attempt checkpoints right after its
    // replay, so one that dies early leaves no more than that to the next).
    expect(recomputed.filter((r) => r > CHECKPOINT_TOKENS)).toEqual([]);
    expect(findings['warn replayed output differs'] ?? 0).toBe(0);
  });
});
