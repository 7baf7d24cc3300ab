import type { AgentSegmentJob, FinishReason, Sampling, TaskStatus } from '@gooseherd/contracts';
import { Keys } from './keys.js';
import { withScripts, type RedisClient, type ScriptedRedis } from './lua/scripts.js';
import { parseJsonField } from './records.js';
import { clock, MAX_MAILBOX_RETRIES, operationId } from './operation.js';
import { SchedulingLedger } from './scheduling-ledger.js';
import { TenantStorage } from './tenant-storage.js';

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

/** The worker's side of the store: segment leases, fenced token/checkpoint/finish writes. */
export class WorkerStore {
  readonly keys: Keys;
  private readonly redis: ScriptedRedis;
  private readonly ledger: SchedulingLedger;
  private readonly storage: TenantStorage;
  /** On a Cluster the queue's lock lives in another slot: it is checked just before the script, not inside. */
  private readonly lockInScript: boolean;

  constructor(
    redis: RedisClient,
    private readonly options: { prefix: string; taskTtlSeconds: number },
  ) {
    this.redis = withScripts(redis);
    this.keys = new Keys(options.prefix);
    this.ledger = new SchedulingLedger(this.redis, this.keys);
    this.storage = new TenantStorage(this.redis, this.keys, options.taskTtlSeconds);
    this.lockInScript = !redis.isCluster;
  }

  /** `lock`: the queue job's lock key and this run's token; the segment is stale unless it still holds it. */
  async beginSegment(
    job: AgentSegmentJob,
    worker: string,
    lock?: { key: string; token: string },
  ): Promise<SegmentStart> {
    const k = this.keys;
    const agentId = job.agentId;
    let r: string[] | undefined;
    for (let attempt = 0; attempt < MAX_MAILBOX_RETRIES && !r; attempt++) {
      if (lock && !this.lockInScript && (await this.redis.get(lock.key)) !== lock.token)
        return { kind: 'stale' };
      const head = (await this.redis.lindex(k.mailbox(agentId), 0)) ?? '';
      const keys = [
        k.agent(agentId),
        k.mailbox(agentId),
        head ? k.task(head) : k.agent(agentId),
        head ? k.taskEvents(head) : k.agent(agentId),
        k.agentEvents(agentId),
      ];
      if (lock && this.lockInScript) keys.push(lock.key);
      const [now, nowMs] = clock();
      const reply = (await this.redis.ghBeginSegment(
        keys.length,
        ...keys,
        agentId,
        job.seq,
        worker,
        head,
        now,
        nowMs,
        head ? k.taskChannel(head) : '',
        k.agentChannel(agentId),
        operationId(),
        lock?.token ?? '',
      )) as string[];
      if (reply[0] !== 'retry') r = reply;
    }
    if (!r) throw new Error(`the mailbox of ${agentId} kept changing while its segment began`);
    if (r[0] === 'stale') return { kind: 'stale' };
    if (r[0] === 'idle') {
      await this.ledger.idle(agentId, job.tenantId).catch(() => undefined);
      return { kind: 'idle' };
    }
    const [, epoch, taskId, mode] = r;
    const [[, a], [, t], [, state], [, ids], [, output]] = (await this.redis
      .multi()
      .hgetall(k.agent(agentId))
      .hgetall(k.task(taskId))
      .getBuffer(k.agentState(agentId))
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
      lease: { agentId, tenantId: job.tenantId, epoch: String(epoch), taskId },
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

  /**
   * Appends generated tokens to the task, fenced: their ids, their text, and their token events (one per token
   * for clients; stored as one stream entry per call, see event-codec.ts).
   */
  async appendTokens(
    lease: Lease,
    tokens: readonly { id: number; text: string }[],
    tokensOutAfter: number,
  ): Promise<WriteResult> {
    if (tokens.length === 0) return 'ok';
    const k = this.keys;
    const packed = Buffer.alloc(tokens.length * 4);
    tokens.forEach((t, i) => packed.writeUInt32LE(t.id, i * 4));
    const texts = JSON.stringify(tokens.map((t) => t.text)).slice(1, -1);
    const [now, nowMs] = clock();
    return (await this.redis.ghAppendTokens(
      k.agent(lease.agentId),
      k.task(lease.taskId),
      k.taskEvents(lease.taskId),
      k.agentEvents(lease.agentId),
      k.taskTokenIds(lease.taskId),
      k.taskOutput(lease.taskId),
      lease.agentId,
      lease.epoch,
      lease.taskId,
      packed,
      tokensOutAfter,
      tokens.map((t) => t.text).join(''),
      texts,
      tokens.length,
      now,
      nowMs,
      k.taskChannel(lease.taskId),
      k.agentChannel(lease.agentId),
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
    const k = this.keys;
    const [now, nowMs] = clock();
    const r = (await this.redis.ghCommitCheckpoint(
      k.agent(lease.agentId),
      k.agentState(lease.agentId),
      k.task(lease.taskId),
      k.taskEvents(lease.taskId),
      k.agentEvents(lease.agentId),
      lease.agentId,
      lease.epoch,
      lease.taskId,
      Buffer.from(write.state.buffer, write.state.byteOffset, write.state.byteLength),
      JSON.stringify(write.meta),
      write.tokensSeen,
      write.tokensIn ?? '',
      write.tokensOut,
      yieldSegment ? 'yield' : 'checkpoint',
      now,
      nowMs,
      k.taskChannel(lease.taskId),
      k.agentChannel(lease.agentId),
      operationId(),
    )) as [string, number, number, number];
    if (r[0] === 'fenced') return { result: 'fenced' };
    const [, stateVersion, nextSeq, cancel] = r;
    const next = nextSeq > 0 ? await this.nextJob(lease, nextSeq) : undefined;
    return { result: cancel === 1 ? 'cancel' : 'ok', stateVersion, next };
  }

  /** Ends the task atomically with its final state; `next` is the agent's next segment, if tasks wait. */
  async finishTask(
    lease: Lease,
    end: TaskEnd,
  ): Promise<{ result: 'ok' | 'fenced'; stateVersion?: number; next?: AgentSegmentJob }> {
    const k = this.keys;
    const finalData =
      end.status === 'succeeded'
        ? { finishReason: end.finishReason, tokensIn: end.tokensIn, tokensOut: end.tokensOut }
        : end.status === 'failed'
          ? { error: end.error ?? 'failed' }
          : { tokensOut: end.tokensOut };
    const flush = end.flushText ?? '';
    const ckpt = end.checkpoint;
    const [now, nowMs] = clock();
    const r = (await this.redis.ghFinishTask(
      k.agent(lease.agentId),
      k.agentState(lease.agentId),
      k.mailbox(lease.agentId),
      ...k.taskKeys(lease.taskId),
      k.agentEvents(lease.agentId),
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
      end.tokensOut,
      this.options.taskTtlSeconds,
      now,
      nowMs,
      k.taskChannel(lease.taskId),
      k.agentChannel(lease.agentId),
      operationId(),
      JSON.stringify(flush),
    )) as [string, number, number, number, number];
    if (r[0] === 'fenced') return { result: 'fenced' };
    const [, stateVersion, nextSeq, idle, outputBytes] = r;
    // Cross-slot bookkeeping after the fact, best effort: the reconciler repairs what a failure here leaves.
    if (idle === 1) await this.ledger.idle(lease.agentId, lease.tenantId).catch(() => undefined);
    await this.storage.add(lease.tenantId, outputBytes + 4 * end.tokensOut).catch(() => undefined);
    return { result: 'ok', stateVersion, next: nextSeq > 0 ? await this.nextJob(lease, nextSeq) : undefined };
  }

  /**
   * Records that the lease's segment failed for a reason other than Redis (a fault), and returns how many
   * faults the task has had in a row without progress (its durable `tokensOut` unchanged since the first of
   * them); 'fenced' when the lease is no longer the agent's. The worker fails the task after a few.
   */
  async recordSegmentFault(lease: Lease): Promise<number | 'fenced'> {
    const r = (await this.redis.ghRecordSegmentFault(
      this.keys.agent(lease.agentId),
      this.keys.task(lease.taskId),
      lease.agentId,
      lease.epoch,
      operationId(),
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
    const r = (await this.redis.ghSetAgentAttention(
      this.keys.agent(lease.agentId),
      lease.agentId,
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
   * re-enqueues any whose job is missing (a process died between the store's change and the enqueue), and
   * listings of idle or deleted agents are dropped here once they are old enough.
   */
  async *scheduledSegments(): AsyncGenerator<AgentSegmentJob> {
    for await (const listing of this.ledger.listings()) {
      const readAtMs = Date.now();
      const [tenantId, active, seq] = await this.redis.hmget(
        this.keys.agent(listing.agentId),
        'tenant',
        'active',
        'segSeq',
      );
      if (tenantId !== listing.tenantId || active !== '1') {
        await this.ledger.drop(listing.agentId, listing.tenantId, listing.listedAtMs, readAtMs);
        continue;
      }
      const busy = await this.ledger.busy(tenantId);
      yield { agentId: listing.agentId, tenantId, seq: Number(seq), priority: Math.max(1, busy) };
    }
  }

  /** The job that continues the agent; its priority is the tenant's busy agents (listing it refreshes it). */
  private async nextJob(lease: Lease, seq: number): Promise<AgentSegmentJob> {
    const busy = await this.ledger
      .list(lease.agentId, lease.tenantId)
      .then((l) => l.busy)
      .catch(() => 1);
    return { agentId: lease.agentId, tenantId: lease.tenantId, seq, priority: Math.max(1, busy) };
  }
}
