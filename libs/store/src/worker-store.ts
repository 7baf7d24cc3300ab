import type { Redis } from 'ioredis';
import type { AgentSegmentJob, FinishReason, Sampling, TaskStatus } from '@gooseherd/contracts';
import { Keys } from './keys.js';
import { withScripts, type ScriptedRedis } from './lua/register.js';
import { parseJsonField } from './records.js';

/** A worker's hold on an agent for one segment. Every write names it; a newer holder fences it out. */
export interface Lease {
  readonly agentId: string;
  readonly tenantId: string;
  readonly epoch: string;
  readonly taskId: string;
}

export interface SegmentAgent {
  model: string;
  /** The agent is marked as needing attention (see AgentView.needsAttention). */
  needsAttention: boolean;
  system: string;
  sampling?: Sampling;
  stateVersion: number;
  tokensSeen: number;
}

export interface SegmentTask {
  input: string;
  maxTokens: number;
  stop?: string[];
  sampling?: Sampling;
  tokensIn: number;
  tokensOut: number;
  attempts: number;
  cancelRequested: boolean;
}

export type SegmentStart =
  | { kind: 'stale' }
  | { kind: 'idle' }
  | {
      kind: 'run';
      lease: Lease;
      mode: 'fresh' | 'continue' | 'resume';
      agent: SegmentAgent;
      task: SegmentTask;
      /** The last committed state blob and its metadata (absent for a new agent). */
      state?: Buffer;
      checkpoint?: unknown;
      /** Output already durable: ids and text (what clients have seen). */
      outputIds: number[];
      output: string;
    };

export interface CheckpointWrite {
  state: Uint8Array;
  /** Worker-defined JSON (pending tokens, generator snapshot, task position). */
  meta: unknown;
  tokensSeen: number;
  tokensOut: number;
  /** Set once the task's prompt has been fed. */
  tokensIn?: number;
}

export type WriteResult = 'ok' | 'cancel' | 'fenced';

export interface TaskEnd {
  status: Extract<TaskStatus, 'succeeded' | 'failed' | 'cancelled'>;
  finishReason: FinishReason;
  error?: string;
  /** Final state; omit to leave the last checkpoint in place (e.g. a task that failed before running). */
  checkpoint?: Omit<CheckpointWrite, 'tokensIn'>;
  tokensIn: number;
  tokensOut: number;
  /** Text held back until the end (released stop-string prefix); published as a last token event. */
  flushText?: string;
}

/**
 * KEYS: agent, task. ARGV: epoch. → -1 (fenced) | faults in a row without progress. Progress is the task's
 * durable tokensOut: a fault at a new position starts the count again.
 */
const RECORD_SEGMENT_FAULT = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return -1 end
if redis.call('HGET', KEYS[2], 'status') ~= 'running' then return -1 end
local at = redis.call('HGET', KEYS[2], 'tokensOut') or '0'
if redis.call('HGET', KEYS[2], 'faultAt') == at then return redis.call('HINCRBY', KEYS[2], 'faults', 1) end
redis.call('HSET', KEYS[2], 'faults', 1, 'faultAt', at)
return 1
`;

/** KEYS: agent. ARGV: epoch, attention JSON ('' = clear). → 0 fenced | 1. */
const SET_AGENT_ATTENTION = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], 'attention') else redis.call('HSET', KEYS[1], 'attention', ARGV[2]) end
return 1
`;

/** The worker's side of the store: segment leases, fenced token/checkpoint/finish writes. */
export class WorkerStore {
  readonly keys: Keys;
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly options: { prefix: string; taskTtlSeconds: number },
  ) {
    this.redis = withScripts(redis);
    this.keys = new Keys(options.prefix);
  }

  private head(): [string, string] {
    return [this.options.prefix, new Date().toISOString()];
  }

  /** `lock`: the queue job's lock key and this run's token; the segment is stale unless it still holds it. */
  async beginSegment(
    job: AgentSegmentJob,
    worker: string,
    lock?: { key: string; token: string },
  ): Promise<SegmentStart> {
    const r = (await this.redis.ghBeginSegment(
      ...this.head(),
      job.agentId,
      job.seq,
      worker,
      lock?.key ?? '',
      lock?.token ?? '',
    )) as string[];
    if (r[0] === 'stale') return { kind: 'stale' };
    if (r[0] === 'idle') return { kind: 'idle' };
    const [, epoch, taskId, mode] = r;
    const k = this.keys;
    const [[, a], [, t], [, state], [, ids], [, output]] = (await this.redis
      .multi()
      .hgetall(k.agent(job.agentId))
      .hgetall(k.task(taskId))
      .getBuffer(k.agentState(job.agentId))
      .getBuffer(k.taskTokenIds(taskId))
      .get(k.taskOutput(taskId))
      .exec()) as [
      [unknown, Record<string, string>],
      [unknown, Record<string, string>],
      [unknown, Buffer | null],
      [unknown, Buffer | null],
      [unknown, string | null],
    ];
    const outputIds: number[] = [];
    if (ids) for (let i = 0; i + 4 <= ids.length; i += 4) outputIds.push(ids.readUInt32LE(i));
    return {
      kind: 'run',
      lease: { agentId: job.agentId, tenantId: job.tenantId, epoch, taskId },
      mode: mode as 'fresh' | 'continue' | 'resume',
      agent: {
        model: a.model,
        needsAttention: Boolean(a.attention),
        system: a.system ?? '',
        sampling: parseJsonField<Sampling>(a.sampling),
        stateVersion: Number(a.stateVersion ?? 0),
        tokensSeen: Number(a.tokensSeen ?? 0),
      },
      task: {
        input: t.input,
        maxTokens: Number(t.maxTokens),
        stop: parseJsonField<string[]>(t.stop),
        sampling: parseJsonField<Sampling>(t.sampling),
        tokensIn: Number(t.tokensIn ?? 0),
        tokensOut: Number(t.tokensOut ?? 0),
        attempts: Number(t.attempts ?? 0),
        cancelRequested: t.cancel === '1',
      },
      state: state ?? undefined,
      checkpoint: parseJsonField(a.ckpt),
      outputIds,
      output: output ?? '',
    };
  }

  /** Appends generated tokens (ids, text deltas, one token event each) to the task, fenced. */
  async appendTokens(
    lease: Lease,
    tokens: readonly { id: number; text: string }[],
    tokensOutAfter: number,
  ): Promise<WriteResult> {
    if (tokens.length === 0) return 'ok';
    const packed = Buffer.alloc(tokens.length * 4);
    tokens.forEach((t, i) => packed.writeUInt32LE(t.id, i * 4));
    const first = tokensOutAfter - tokens.length;
    const events = tokens.map((t, i) => JSON.stringify({ text: t.text, tokensOut: first + i + 1 }));
    const text = tokens.map((t) => t.text).join('');
    return (await this.redis.ghAppendTokens(
      ...this.head(),
      lease.agentId,
      lease.epoch,
      lease.taskId,
      packed,
      tokensOutAfter,
      text,
      ...events,
    )) as WriteResult;
  }

  /**
   * Commits a checkpoint. With `yieldSegment` the segment ends here and `next` is the job that continues the
   * task (the caller enqueues it).
   */
  async commitCheckpoint(
    lease: Lease,
    write: CheckpointWrite,
    yieldSegment = false,
  ): Promise<{ result: WriteResult; stateVersion?: number; next?: AgentSegmentJob }> {
    const r = (await this.redis.ghCommitCheckpoint(
      ...this.head(),
      lease.agentId,
      lease.epoch,
      lease.taskId,
      Buffer.from(write.state.buffer, write.state.byteOffset, write.state.byteLength),
      JSON.stringify(write.meta),
      write.tokensSeen,
      write.tokensIn ?? '',
      write.tokensOut,
      yieldSegment ? 'yield' : 'checkpoint',
    )) as [string, number, number, number, number];
    if (r[0] === 'fenced') return { result: 'fenced' };
    const [, stateVersion, nextSeq, priority, cancel] = r;
    const next = nextSeq > 0 ? this.job(lease, nextSeq, priority) : undefined;
    return { result: cancel === 1 ? 'cancel' : 'ok', stateVersion, next };
  }

  /** Ends the task atomically with its final state; `next` is the agent's next segment, if tasks wait. */
  async finishTask(
    lease: Lease,
    end: TaskEnd,
  ): Promise<{ result: 'ok' | 'fenced'; stateVersion?: number; next?: AgentSegmentJob }> {
    const finalData =
      end.status === 'succeeded'
        ? { finishReason: end.finishReason, tokensIn: end.tokensIn, tokensOut: end.tokensOut }
        : end.status === 'failed'
          ? { error: end.error ?? 'failed' }
          : { tokensOut: end.tokensOut };
    const flush = end.flushText ?? '';
    const ckpt = end.checkpoint;
    const r = (await this.redis.ghFinishTask(
      ...this.head(),
      lease.agentId,
      lease.epoch,
      lease.taskId,
      ckpt ? Buffer.from(ckpt.state.buffer, ckpt.state.byteOffset, ckpt.state.byteLength) : '',
      ckpt ? JSON.stringify(ckpt.meta) : '',
      ckpt?.tokensSeen ?? 0,
      end.tokensIn,
      end.status,
      end.finishReason,
      end.error ?? '',
      JSON.stringify(finalData),
      flush,
      flush ? JSON.stringify({ text: flush, tokensOut: end.tokensOut }) : '',
      this.options.taskTtlSeconds,
    )) as [string, number, number, number];
    if (r[0] === 'fenced') return { result: 'fenced' };
    const [, stateVersion, nextSeq, priority] = r;
    return { result: 'ok', stateVersion, next: nextSeq > 0 ? this.job(lease, nextSeq, priority) : undefined };
  }

  /**
   * Records that the lease's segment failed for a reason other than Redis (a fault), and returns how many
   * faults the task has had in a row without progress (its durable `tokensOut` unchanged since the first of
   * them); 'fenced' when the lease is no longer the agent's. The worker fails the task after a few.
   */
  async recordSegmentFault(lease: Lease): Promise<number | 'fenced'> {
    const r = (await this.redis.eval(
      RECORD_SEGMENT_FAULT,
      2,
      this.keys.agent(lease.agentId),
      this.keys.task(lease.taskId),
      lease.epoch,
    )) as number;
    return r < 0 ? 'fenced' : r;
  }

  /**
   * Marks the lease's agent as needing attention (its stored state could not be used), or clears the mark
   * (`reason` undefined). Fenced by the lease's epoch; false when fenced.
   */
  async setAgentAttention(lease: Lease, reason: string | undefined): Promise<boolean> {
    const attention = reason
      ? JSON.stringify({ reason, since: new Date().toISOString(), taskId: lease.taskId })
      : '';
    const r = (await this.redis.eval(
      SET_AGENT_ATTENTION,
      1,
      this.keys.agent(lease.agentId),
      String(lease.epoch),
      attention,
    )) as number;
    return r === 1;
  }

  /**
   * Whether the lease's segment should go on: 'cancel' (its task was cancelled, or its agent deleted),
   * 'fenced' (another worker holds the agent now), or 'ok'. Read between prefill chunks, where no write
   * would tell the worker.
   */
  async segmentSignal(lease: Lease): Promise<WriteResult> {
    const [[, epoch], [, task]] = (await this.redis
      .multi()
      .hget(this.keys.agent(lease.agentId), 'epoch')
      .hmget(this.keys.task(lease.taskId), 'status', 'cancel')
      .exec()) as [[unknown, string | null], [unknown, (string | null)[]]];
    if (epoch === null) return 'cancel'; // the agent was deleted (its tasks were cancelled with it)
    if (epoch !== String(lease.epoch)) return 'fenced'; // the begin script answers the epoch as a number
    const [status, cancel] = task;
    if (status === 'cancelled' || cancel === '1') return 'cancel';
    return status === 'running' ? 'ok' : 'fenced';
  }

  /**
   * Agents that have work scheduled, with the segment job that should exist for each. The reconciler
   * re-enqueues any whose job is missing (a process died between the store's change and the enqueue).
   */
  async *scheduledSegments(): AsyncGenerator<AgentSegmentJob> {
    let cursor = '0';
    do {
      const [next, ids] = await this.redis.sscan(this.keys.activeAgents(), cursor, 'COUNT', 200);
      cursor = next;
      for (const agentId of ids) {
        const [tenantId, active, seq] = await this.redis.hmget(
          this.keys.agent(agentId),
          'tenant',
          'active',
          'segSeq',
        );
        if (!tenantId || active !== '1') {
          // Re-checked inside Redis: a task submitted since the read above may have re-activated the agent.
          await this.redis.eval(
            "if redis.call('HGET', KEYS[1], 'active') ~= '1' then redis.call('SREM', KEYS[2], ARGV[1]) end",
            2,
            this.keys.agent(agentId),
            this.keys.activeAgents(),
            agentId,
          );
          continue;
        }
        const depth = Number((await this.redis.hget(this.keys.tenantDepth(), tenantId)) ?? 1);
        yield { agentId, tenantId, seq: Number(seq), priority: Math.max(1, depth) };
      }
    } while (cursor !== '0');
  }

  private job(lease: Lease, seq: number, priority: number): AgentSegmentJob {
    return { agentId: lease.agentId, tenantId: lease.tenantId, seq, priority: Math.max(1, priority) };
  }
}
