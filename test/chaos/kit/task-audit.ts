import type { AgentView, EventDataMap, TaskEvent, TaskView } from '@gooseherd/contracts';
import type { Redis } from 'ioredis';
import { ofKind, sequenceProblems, streamedText } from '@gooseherd/test-kit';

/**
 * Audits of what a task left in Redis, read directly (not through the API): its durable event log, its output
 * and token-id keys. Every check returns problems as sentences; the empty list means the guarantee held.
 */

/** A task's durable event log, in stream order (XRANGE of `{p}:task:{id}:events`). */
export async function durableTaskLog(redis: Redis, prefix: string, taskId: string): Promise<TaskEvent[]> {
  const entries = await redis.xrange(`${prefix}:task:${taskId}:events`, '-', '+');
  return entries.map(([, fields]) => JSON.parse(fields[fields.indexOf('e') + 1]) as TaskEvent);
}

/** What one task's log says about its attempts and the work redone after each crash. */
export interface TaskAudit {
  taskId: string;
  problems: string[];
  /** `resumed` events: each is one takeover after the previous holder vanished. */
  resumes: number;
  /** Per resume: output tokens between the checkpoint it restored and `fromToken` (fed again, not re-sampled). */
  recomputed: number[];
  /**
   * The same, for resumes whose previous attempt had committed a checkpoint of its own: these are the ones the
   * checkpoint interval bounds. (An attempt that itself began by resuming and died before its first checkpoint
   * leaves the next resume to feed its tokens too.)
   */
  recomputedAfterCheckpointedAttempt: number[];
  checkpoints: number;
  tokens: number;
  /** Token events whose index was already in the log (a write applied twice, or two holders). */
  repeatedIndices: number;
  /** Those events: seq, token index, writer's time, and whether they repeat an earlier event exactly. */
  repeated: { seq: number; index: number; at: string; sameWrite: boolean }[];
}

/**
 * Checks one finished task's log (durable, or as a client received it from seq 1) against its record:
 * - seq 1, 2, … without gaps or duplicates; `queued` first; one final event, last, `completed`;
 * - exactly one `started` (attempt 1), then `resumed` events with attempts 2, 3, …; record attempts = 1 + resumes;
 * - token events carry tokensOut 1, 2, … N in order: no token index emitted twice (no two holders at once), none
 *   skipped; each `resumed.fromToken` equals the tokens already in the log (nothing durable lost or redone);
 * - a checkpoint never covers tokens that are not yet in the log, its tokensOut never goes back, and the agent's
 *   stateVersion in checkpoint events strictly increases;
 * - the token texts concatenated equal the task's output; completed.tokensOut = tokens in the log = record's.
 */
export function auditTaskLog(log: TaskEvent[], task: TaskView): TaskAudit {
  const problems = sequenceProblems(log).map((p) => `log: ${p}`);
  const recomputed: number[] = [];
  const bounded: number[] = [];
  /** Whether the attempt now running has committed a checkpoint. */
  let attemptCheckpointed = false;
  let tokens = 0;
  /** The index of the last token event (data.tokensOut), which the next one must exceed by one. */
  let lastIndex = 0;
  const repeated: TaskAudit['repeated'] = [];
  const byIndex = new Map<number, TaskEvent>();
  let attempt = 0;
  let lastCheckpoint: EventDataMap['checkpoint'] | undefined;
  let finals = 0;
  if (log[0]?.kind !== 'queued')
    problems.push(`the log starts with ${log[0]?.kind ?? 'nothing'}, not queued`);
  for (const e of log) {
    const at = `seq ${e.seq} (${e.kind})`;
    if (finals > 0) problems.push(`${at} comes after the final event`);
    switch (e.kind) {
      case 'started': {
        const d = e.data as EventDataMap['started'];
        if (attempt !== 0) problems.push(`${at}: a second started event (attempt ${attempt} was running)`);
        if (d.attempt !== 1) problems.push(`${at}: started with attempt ${d.attempt}`);
        attempt = 1;
        break;
      }
      case 'resumed': {
        const d = e.data as EventDataMap['resumed'];
        if (attempt === 0) problems.push(`${at}: resumed before started`);
        if (d.attempt !== attempt + 1)
          problems.push(`${at}: attempt ${d.attempt} follows attempt ${attempt}`);
        attempt = d.attempt;
        const redo = d.fromToken - (lastCheckpoint?.tokensOut ?? 0);
        recomputed.push(redo);
        if (attemptCheckpointed) bounded.push(redo);
        attemptCheckpointed = false;
        if (d.fromToken !== lastIndex) {
          problems.push(`${at}: fromToken ${d.fromToken} but the log holds tokens up to ${lastIndex}`);
        }
        break;
      }
      case 'token': {
        const d = e.data as EventDataMap['token'];
        if (attempt === 0) problems.push(`${at}: a token before started`);
        if (d.tokensOut !== lastIndex + 1) {
          const first = byIndex.get(d.tokensOut);
          const sameWrite = !!first && first.at === e.at && JSON.stringify(first.data) === JSON.stringify(d);
          const what = !first
            ? 'skipped to'
            : sameWrite
              ? `emitted again by the same write (seq ${first.seq}: same time ${e.at} and text)`
              : `emitted again (seq ${first.seq} has it: ${first.at}, ${JSON.stringify(first.data)})`;
          problems.push(`${at}: token index ${d.tokensOut} ${what}; ${lastIndex + 1} was due`);
          if (first) repeated.push({ seq: e.seq, index: d.tokensOut, at: e.at, sameWrite });
        }
        if (!byIndex.has(d.tokensOut)) byIndex.set(d.tokensOut, e);
        lastIndex = d.tokensOut;
        tokens += 1;
        break;
      }
      case 'checkpoint': {
        const d = e.data as EventDataMap['checkpoint'];
        if (d.tokensOut > lastIndex) {
          problems.push(`${at}: covers ${d.tokensOut} tokens but the log holds tokens up to ${lastIndex}`);
        }
        if (lastCheckpoint && d.tokensOut < lastCheckpoint.tokensOut) {
          problems.push(`${at}: tokensOut went back from ${lastCheckpoint.tokensOut} to ${d.tokensOut}`);
        }
        if (lastCheckpoint && d.stateVersion <= lastCheckpoint.stateVersion) {
          problems.push(`${at}: stateVersion ${d.stateVersion} after ${lastCheckpoint.stateVersion}`);
        }
        lastCheckpoint = d;
        attemptCheckpointed = true;
        break;
      }
      case 'completed': {
        const d = e.data as EventDataMap['completed'];
        finals += 1;
        if (d.tokensOut !== lastIndex)
          problems.push(`${at}: tokensOut ${d.tokensOut}, last token index ${lastIndex}`);
        break;
      }
      case 'failed':
      case 'cancelled':
        finals += 1;
        problems.push(`${at}: the task ended ${e.kind} ${JSON.stringify(e.data)}`);
        break;
      case 'queued':
        break;
    }
  }
  if (finals !== 1) problems.push(`${finals} final events`);
  if (task.status !== 'succeeded') problems.push(`status ${task.status} (${task.error ?? ''})`);
  if (tokens !== task.tokensOut)
    problems.push(`${tokens} token events, record says tokensOut ${task.tokensOut}`);
  const resumes = ofKind(log, 'resumed').length;
  if (task.attempts !== 1 + resumes)
    problems.push(`attempts ${task.attempts} with ${resumes} resumed events`);
  const text = streamedText(log);
  if (text !== task.output) problems.push(`log text ${textDiff(text, task.output)}`);
  return {
    taskId: task.id,
    problems,
    resumes,
    recomputed,
    recomputedAfterCheckpointedAttempt: bounded,
    checkpoints: ofKind(log, 'checkpoint').length,
    tokens,
    repeatedIndices: repeated.length,
    repeated,
  };
}

/** Where two texts part, for messages: "differs at char 12 (34 vs 35 chars)". */
export function textDiff(got: string, want: string): string {
  if (got === want) return 'equal';
  let i = 0;
  while (i < got.length && i < want.length && got[i] === want[i]) i++;
  return `differs from the output at char ${i} (${got.length} vs ${want.length} chars)`;
}

/** The task's durable output key and token-id key agree with its record (no double APPEND, no lost write). */
export async function durableOutputProblems(redis: Redis, prefix: string, task: TaskView): Promise<string[]> {
  const [output, idBytes] = await Promise.all([
    redis.get(`${prefix}:task:${task.id}:output`),
    redis.strlen(`${prefix}:task:${task.id}:ids`),
  ]);
  const problems: string[] = [];
  if (output !== task.output) problems.push(`output key ${textDiff(output ?? '', task.output)}`);
  if (idBytes !== 4 * task.tokensOut) {
    problems.push(`ids key holds ${idBytes / 4} token ids, tokensOut is ${task.tokensOut}`);
  }
  return problems;
}

/**
 * Checks over all of one agent's tasks (in submission order) from their durable logs: agentSeq is unique and
 * contiguous across the tasks, each task started only after the previous one completed (one at a time, in
 * order), stateVersion in checkpoint events strictly increases across tasks, and the agent's tokensSeen grew by
 * exactly Σ(tokensIn + tokensOut): replay after a crash fed exactly what the state had not consumed.
 */
export function auditAgent(
  before: AgentView,
  after: AgentView,
  tasks: { task: TaskView; log: TaskEvent[] }[],
): string[] {
  const problems: string[] = [];
  const all = tasks.flatMap((t) => t.log).sort((a, b) => a.agentSeq - b.agentSeq);
  for (let i = 1; i < all.length; i++) {
    if (all[i].agentSeq !== all[i - 1].agentSeq + 1) {
      problems.push(`agentSeq ${all[i - 1].agentSeq} is followed by ${all[i].agentSeq}`);
      break;
    }
  }
  for (let i = 1; i < tasks.length; i++) {
    const done = tasks[i - 1].log.find((e) => e.kind === 'completed');
    const started = tasks[i].log.find((e) => e.kind === 'started');
    if (done && started && started.agentSeq < done.agentSeq) {
      problems.push(`task ${i + 1} started (agentSeq ${started.agentSeq}) before task ${i} completed`);
    }
  }
  let version = -Infinity;
  for (const e of all) {
    if (e.kind !== 'checkpoint') continue;
    const v = (e.data as EventDataMap['checkpoint']).stateVersion;
    if (v <= version) problems.push(`stateVersion ${v} after ${version} (agentSeq ${e.agentSeq})`);
    version = Math.max(version, v);
  }
  if (after.stateVersion < version) problems.push(`agent stateVersion ${after.stateVersion} < ${version}`);
  const fed = tasks.reduce((n, t) => n + t.task.tokensIn + t.task.tokensOut, 0);
  if (after.tokensSeen - before.tokensSeen !== fed) {
    problems.push(`tokensSeen grew by ${after.tokensSeen - before.tokensSeen}, the tasks account for ${fed}`);
  }
  return problems.map((p) => `agent ${after.id}: ${p}`);
}

/** status, worker and tokensOut of many tasks, straight from their Redis hashes (one round trip). */
export async function taskStates(
  redis: Redis,
  prefix: string,
  taskIds: string[],
): Promise<Map<string, { status: string; worker: string | null; tokensOut: number }>> {
  const pipeline = redis.pipeline();
  for (const id of taskIds) pipeline.hmget(`${prefix}:task:${id}`, 'status', 'worker', 'tokensOut');
  const answers = (await pipeline.exec()) ?? [];
  const out = new Map<string, { status: string; worker: string | null; tokensOut: number }>();
  answers.forEach(([err, value], i) => {
    if (err) throw err;
    const [status, worker, tokensOut] = value as (string | null)[];
    out.set(taskIds[i], { status: status ?? 'missing', worker, tokensOut: Number(tokensOut ?? 0) });
  });
  return out;
}

/**
 * A task's attempts and checkpoints in one line, for reports: "started ck0 ck32 | resumed@45 | resumed@70 ck102"
 * (ckN: a checkpoint at N output tokens; resumed@N: an attempt resuming from N).
 */
export function attemptTimeline(log: TaskEvent[]): string {
  const parts: string[] = [];
  for (const e of log) {
    if (e.kind === 'started') parts.push('started');
    if (e.kind === 'resumed') parts.push(`| resumed@${(e.data as EventDataMap['resumed']).fromToken}`);
    if (e.kind === 'checkpoint') parts.push(`ck${(e.data as EventDataMap['checkpoint']).tokensOut}`);
    if (e.kind === 'completed') parts.push(`| completed@${(e.data as EventDataMap['completed']).tokensOut}`);
  }
  return parts.join(' ');
}
