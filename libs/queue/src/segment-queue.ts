import { Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueName, type AgentSegmentJob } from '@gooseherd/contracts';
import type { SegmentProducer } from './segment-queue-api.js';

/** BullMQ's largest priority. */
const MAX_PRIORITY = 2 ** 21;

/** BullMQ keys live under `{prefix}:bull`, beside the store's keys. */
export function bullPrefix(prefix: string): string {
  return `${prefix}:bull`;
}

/**
 * A segment's job id is derived from the agent and its segment number, so enqueueing the same segment twice
 * (the API and the reconciler racing) adds it once. BullMQ forbids ':' in custom ids.
 */
export function segmentJobId(job: Pick<AgentSegmentJob, 'agentId' | 'seq'>): string {
  return `${job.agentId}.${job.seq}`;
}

/** Retry delay after a segment failed for an infrastructure reason (Redis away): 0.5 s doubling to 30 s. */
export function retryDelayMs(attemptsMade: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(attemptsMade, 16));
}

const JOB_NAME = 'segment';

export class SegmentQueue implements SegmentProducer {
  readonly queue: Queue<AgentSegmentJob>;

  constructor(connection: Redis, options: { prefix: string }) {
    this.queue = new Queue<AgentSegmentJob>(QueueName.AgentSegments, {
      connection,
      prefix: bullPrefix(options.prefix),
    });
    this.queue.on('error', () => undefined); // connection errors surface on the calls that fail
  }

  async enqueue(job: AgentSegmentJob): Promise<void> {
    await this.queue.add(JOB_NAME, job, {
      jobId: segmentJobId(job),
      priority: Math.min(Math.max(1, job.priority), MAX_PRIORITY),
      // A segment that throws (Redis unreachable mid-run) is retried with backoff for as long as it takes;
      // task-level errors are recorded on the task by the worker and never throw.
      attempts: Number.MAX_SAFE_INTEGER,
      backoff: { type: 'capped' },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /** True when the segment's job is waiting, delayed or running (the reconciler's check). */
  async exists(job: AgentSegmentJob): Promise<boolean> {
    const state = await this.queue.getJobState(segmentJobId(job));
    return state !== 'unknown' && state !== 'completed' && state !== 'failed';
  }

  async waitingCount(): Promise<number> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'delayed');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

/**
 * The BullMQ lock a consumer holds on a segment job while it runs it: the key and this run's token. The
 * store checks it when the segment begins, so a run whose lock expired (its process was frozen between
 * fetching the job and starting it) cannot take the agent back from the run that holds the job now.
 */
export interface SegmentLock {
  key: string;
  token: string;
}

export function segmentLockKey(prefix: string, jobId: string): string {
  return `${bullPrefix(prefix)}:${QueueName.AgentSegments}:${jobId}:lock`;
}

export interface SegmentConsumerOptions {
  prefix: string;
  /** Segments this process runs at once (their decode steps are batched together). */
  concurrency: number;
  /** The lease: a worker that does not renew its lock for this long loses the job to another worker. */
  lockMs: number;
  /** Shown in Redis CLIENT LIST (BullMQ names its connections after the worker). */
  name?: string;
}

/**
 * The consumer side: a BullMQ worker whose stalled-job check hands a dead worker's segments to a live one.
 * It starts paused (autorun false); call `run()` once the engine is ready.
 */
export function createSegmentConsumer(
  connection: Redis,
  options: SegmentConsumerOptions,
  process: (
    job: AgentSegmentJob,
    lock: SegmentLock | undefined,
    bullJob: Job<AgentSegmentJob>,
  ) => Promise<void>,
): Worker<AgentSegmentJob> {
  const lockOf = (job: Job<AgentSegmentJob>, token?: string): SegmentLock | undefined =>
    token && job.id ? { key: segmentLockKey(options.prefix, job.id), token } : undefined;
  return new Worker<AgentSegmentJob>(
    QueueName.AgentSegments,
    (job, token) => process(job.data, lockOf(job, token), job),
    {
      connection,
      prefix: bullPrefix(options.prefix),
      concurrency: options.concurrency,
      name: options.name,
      autorun: false,
      lockDuration: options.lockMs,
      stalledInterval: Math.max(250, Math.floor(options.lockMs / 2)),
      // A stalled segment is always retried: the store's checkpoint makes re-running it cheap and safe.
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      settings: { backoffStrategy: (attemptsMade: number) => retryDelayMs(attemptsMade) },
    },
  );
}
