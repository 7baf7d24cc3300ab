import type { AgentView, TaskEvent, TaskView } from '@gooseherd/contracts';
import {
  exactLengthTask,
  LONG,
  sleep,
  tcpConnectionsOf,
  useCluster,
  waitFor,
  type ManagedProcess,
} from '@gooseherd/test-kit';
import { Rng, logFindings, report, since, spread, tally, workerNamed } from './kit/chaos-run';
import { MonitorTap, WRITE_COMMANDS, type ScriptCall } from './kit/redis-monitor';
import {
  auditAgent,
  auditTaskLog,
  durableOutputProblems,
  durableTaskLog,
  taskStates,
} from './kit/task-audit';

// The randomized, repeated form of e2e/lease-fencing: again and again a worker holding agents is frozen
// (SIGSTOP) at a random moment, kept frozen until other workers have taken its agents over, then continued
// (SIGCONT). Redis itself is the witness: a MONITOR tap on the frozen worker's own connections records every
// script it runs once it wakes up, and none of its writes for the leases it lost may land; a poller checks
// that no agent's stateVersion or epoch ever goes back; and every task's durable log stays one clean line.

const AGENTS = LONG ? 8 : 4;
const ROUNDS = LONG ? 10 : 3;
const LEASE_MS = 2_000;
const TOKENS = { min: 400, max: 800 };
/** Unfinished tasks kept queued per agent, so agents always have work to be frozen in. */
const BACKLOG = 2;

interface StaleLease {
  agentId: string;
  epoch: number;
}

describe('workers frozen past their lease at random moments', () => {
  const cluster = useCluster({
    workers: 3,
    leaseMs: LEASE_MS,
    checkpointTokens: 32,
    // A segment covers a whole task: only a lost lease moves a running task.
    segmentTokens: 100_000,
  });

  it(`refuses every write a woken worker attempts for leases it lost (${ROUNDS} rounds)`, async () => {
    const c = cluster();
    const rng = new Rng();
    const prefix = c.settings.prefix;
    const redis = c.redis.redis();
    const t0 = Date.now();
    const agents: AgentView[] = await Promise.all(
      Array.from({ length: AGENTS }, () => c.alice.createAgent()),
    );
    const submitted: { agentIndex: number; taskId: string; tokens: number }[] = [];
    const topUp = async () => {
      const states = await taskStates(
        redis,
        prefix,
        submitted.map((s) => s.taskId),
      );
      for (let a = 0; a < AGENTS; a++) {
        const open = submitted.filter((s) => s.agentIndex === a && !isFinal(states.get(s.taskId)?.status));
        for (let k = open.length; k < BACKLOG; k++) {
          const tokens = rng.int(TOKENS.min, TOKENS.max);
          const task = await c.alice.submitTask(
            agents[a].id,
            exactLengthTask(tokens, `Task ${submitted.length}.`),
          );
          submitted.push({ agentIndex: a, taskId: task.id, tokens });
        }
      }
    };
    await topUp();

    // The poller: an agent's stateVersion and epoch only ever grow.
    const agentKeys = agents.map((a) => `${prefix}:agent:${a.id}`);
    const regressions: string[] = [];
    let samples = 0;
    let polling = true;
    const poller = (async () => {
      const last = agentKeys.map(() => ({ stateVersion: 0, epoch: 0 }));
      while (polling) {
        const pipeline = redis.pipeline();
        agentKeys.forEach((k) => pipeline.hmget(k, 'stateVersion', 'epoch'));
        const answers = (await pipeline.exec().catch(() => null)) ?? [];
        answers.forEach(([err, value], i) => {
          if (err) return;
          const [v, e] = (value as (string | null)[]).map(Number);
          if (v < last[i].stateVersion || e < last[i].epoch) {
            regressions.push(
              `${agents[i].id}: stateVersion ${last[i].stateVersion}→${v}, epoch ${last[i].epoch}→${e}`,
            );
          }
          last[i] = { stateVersion: Math.max(v, last[i].stateVersion), epoch: Math.max(e, last[i].epoch) };
        });
        samples += 1;
        await sleep(25);
      }
    })();

    const rounds: Record<string, unknown>[] = [];
    const landed: string[] = [];
    const staleTakeovers: string[] = [];
    let staleAttempts = 0;
    try {
      for (let r = 0; r < ROUNDS; r++) {
        await topUp();
        await sleep(rng.int(300, 1_500));
        const holding = await holdings(c.workers.filter((w) => w.running));
        const candidates = [...holding.entries()].filter(([, leases]) => leases.length > 0);
        if (candidates.length === 0) {
          rounds.push({ round: r + 1, skipped: 'no worker held an agent' });
          continue;
        }
        const [victim] = rng.pick(candidates);
        const addrs = tcpConnectionsOf(victim.pid, c.redis.port);
        victim.kill('SIGSTOP');
        const pausedAt = Date.now();
        // Frozen now: what its leases are cannot change until another worker takes them.
        const stale = (await holdings([victim])).get(victim) ?? [];
        let takeoverMs = 0;
        let tap: MonitorTap | undefined;
        const segments = new Map<string, { segSeq: number; begunByOther: boolean }>();
        try {
          await waitFor(
            async (seen) => {
              const epochs = await Promise.all(
                stale.map((l) => redis.hget(`${prefix}:agent:${l.agentId}`, 'epoch').then(Number)),
              );
              const waiting = stale.filter((l, i) => epochs[i] <= l.epoch);
              seen(`${waiting.length} of ${stale.length} leases of ${victim.name} not yet taken over`);
              return waiting.length === 0;
            },
            { timeoutMs: 60_000, what: `other workers to take over the agents of the frozen ${victim.name}` },
          );
          takeoverMs = since(pausedAt);
          await sleep(rng.int(0, 1_000));
          // Which segment each agent is in, and whether another worker has begun it: a segment begun by
          // another worker while this one was frozen is no longer this one's to begin.
          for (const agent of agents) {
            const [segSeq, worker, status, yielded] = (await redis.eval(
              SEGMENT_NOW,
              2,
              `${prefix}:agent:${agent.id}`,
              `${prefix}:agent:${agent.id}:mailbox`,
              prefix,
            )) as (string | null)[];
            const begun = status === 'running' && yielded !== '1';
            segments.set(agent.id, {
              segSeq: Number(segSeq),
              begunByOther: begun && !workerNamed([victim], worker),
            });
          }
          tap = await MonitorTap.start(c.redis.port, addrs);
        } finally {
          victim.kill('SIGCONT');
        }
        const resumedAt = Date.now();
        // Give the woken worker time for everything it had pending: token flushes, checkpoints, its next step.
        await sleep(LEASE_MS + 1_500);
        tap.stop();

        const verdicts = tap.calls.filter(isStoreScript(prefix)).map((call) => judge(call, stale, segments));
        for (const v of verdicts) {
          if (v.kind === 'stale-write') {
            staleAttempts += 1;
            if (v.landed) landed.push(`round ${r + 1}, ${victim.name}: ${v.describe}`);
          }
          if (v.kind === 'stale-begin' && v.landed)
            staleTakeovers.push(`round ${r + 1}, ${victim.name}: ${v.describe}`);
        }
        rounds.push({
          round: r + 1,
          victim: victim.name,
          leasesLost: stale.length,
          pausedMs: resumedAt - pausedAt,
          takeoverMs,
          connections: addrs.length,
          scriptCallsAfterWaking: verdicts.length,
          verdicts: tally(verdicts.map((v) => `${v.kind}${v.landed ? ' LANDED' : ''}`)),
          monitorLines: tap.lines,
        });
      }
    } finally {
      polling = false;
      await poller;
    }

    await waitFor(
      async (seen) => {
        const states = await taskStates(
          redis,
          prefix,
          submitted.map((s) => s.taskId),
        );
        const open = [...states.values()].filter((s) => !isFinal(s.status));
        seen(`${open.length} of ${submitted.length} tasks unfinished`);
        return open.length === 0;
      },
      { timeoutMs: LONG ? 600_000 : 180_000, what: 'every task to finish', intervalMs: 500 },
    );

    const problems: string[] = [];
    const records = new Map<string, TaskView>();
    const logs = new Map<string, TaskEvent[]>();
    let resumes = 0;
    for (const s of submitted) {
      const task = await c.alice.getTask(s.taskId);
      const log = await durableTaskLog(redis, prefix, s.taskId);
      records.set(s.taskId, task);
      logs.set(s.taskId, log);
      const audit = auditTaskLog(log, task);
      resumes += audit.resumes;
      const own = [...audit.problems, ...(await durableOutputProblems(redis, prefix, task))];
      if (task.tokensOut !== s.tokens) own.push(`tokensOut ${task.tokensOut}, asked for ${s.tokens}`);
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
    const played = rounds.filter((r) => !r.skipped);
    const result = {
      seed: rng.seed,
      agents: AGENTS,
      tasks: tasks.length,
      tokens: tasks.reduce((n, t) => n + t.tokensOut, 0),
      rounds: rounds.length,
      freezes: played.length,
      leasesLost: played.reduce((n, r) => n + Number(r.leasesLost), 0),
      takeoverMs: spread(played.map((r) => Number(r.takeoverMs))),
      staleWriteAttempts: staleAttempts,
      staleWritesLanded: landed,
      staleJobTakeovers: staleTakeovers,
      resumes,
      versionSamples: samples,
      versionRegressions: regressions,
      lost: tasks.filter((t) => t.status !== 'succeeded').map((t) => `${t.id} ${t.status}`),
      problems: problems.length,
      runMs: since(t0),
      perRound: rounds,
      logFindings: logFindings([c.api, ...c.workers]),
    };
    report('lease-pause', result);

    expect(landed).toEqual([]);
    // A job the frozen worker had fetched before the freeze was handed to another worker when its lock
    // expired; on waking, the frozen worker must not start that segment over the new holder (README, finding 4).
    expect(staleTakeovers).toEqual([]);
    expect(regressions).toEqual([]);
    expect(problems.slice(0, 30)).toEqual([]);
    expect(result.lost).toEqual([]);
    expect(played.length).toBeGreaterThanOrEqual(Math.ceil(ROUNDS / 2));
    // The woken workers did try: fencing was exercised, not just idle workers continued.
    expect(staleAttempts).toBeGreaterThanOrEqual(1);

    /** The leases (agent, epoch) each worker holds now: agents whose record names it and that are scheduled. */
    async function holdings(workers: ManagedProcess[]): Promise<Map<ManagedProcess, StaleLease[]>> {
      const out = new Map<ManagedProcess, StaleLease[]>(workers.map((w) => [w, []]));
      for (const agent of agents) {
        const [worker, epoch, active] = await redis.hmget(
          `${prefix}:agent:${agent.id}`,
          'worker',
          'epoch',
          'active',
        );
        const holder = workerNamed(workers, worker);
        if (holder && active === '1') out.get(holder)!.push({ agentId: agent.id, epoch: Number(epoch) });
      }
      return out;
    }
  });
});

/** segSeq and worker of an agent, and status and yielded of its head task, read atomically. */
const SEGMENT_NOW = `
local a = redis.call('HMGET', KEYS[1], 'segSeq', 'worker')
local t = redis.call('LINDEX', KEYS[2], 0)
local st = {false, false}
if t then st = redis.call('HMGET', ARGV[1] .. ':task:' .. t, 'status', 'yielded') end
return {a[1], a[2], st[1], st[2]}
`;

function isFinal(status: string | undefined): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}

/** A Gooseherd store script (ARGV[1] is the key prefix, no KEYS), not one of BullMQ's. */
function isStoreScript(prefix: string) {
  return (call: ScriptCall) => call.args[2] === '0' && call.args[3] === prefix;
}

/**
 * What a script call from the woken worker was and whether it changed anything. ARGV: prefix, now, agentId,
 * then epoch (token, checkpoint and finish scripts, which start by reading the agent's epoch: HGET) or the
 * segment seq (beginSegment, which reads the agent's tenant, active and segSeq: HMGET, after checking the
 * queue job's lock: GET).
 */
function judge(
  call: ScriptCall,
  stale: StaleLease[],
  segments: Map<string, { segSeq: number; begunByOther: boolean }>,
): { kind: 'stale-write' | 'stale-begin' | 'current'; landed: boolean; describe: string } {
  const [, , , prefix, , agentId, fourth, fifth] = call.args;
  const agentKey = `${prefix}:agent:${agentId}`;
  const writes = call.ran.filter((r) => WRITE_COMMANDS.has(r.command));
  const landed = writes.length > 0;
  const lease = stale.find((l) => l.agentId === agentId);
  const describe =
    `${call.ran.map((r) => r.command).join(' ')} for agent ${agentId} (arg ${fourth}, ${fifth}) ran ` +
    (landed ? writes.map((w) => `${w.command} ${w.key}`).join(', ') : 'no write');
  // Every store script reads before it writes: a call with no commands seen means the tap missed them.
  if (call.ran.length === 0) return { kind: 'stale-write', landed: true, describe: `${describe} (unseen)` };
  const fencedWrite = call.ran[0].command === 'HGET' && call.ran[0].key === agentKey;
  if (!fencedWrite) {
    // beginSegment(seq): stale when another worker had begun that segment while this one was frozen.
    const now = segments.get(agentId);
    const begunElsewhere = !!now && now.begunByOther && Number(fourth) <= now.segSeq;
    return { kind: begunElsewhere ? 'stale-begin' : 'current', landed, describe };
  }
  if (!lease) return { kind: 'current', landed, describe };
  return { kind: Number(fourth) <= lease.epoch ? 'stale-write' : 'current', landed, describe };
}
