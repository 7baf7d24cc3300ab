import { QueueKeys, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { QueueName, type AgentSegmentJob } from '@gooseherd/contracts';
import { bullPrefix, retryDelayMs } from './segment-queue.js';

/**
 * The BullMQ lock a consumer holds on a segment job while it runs it: the key and this run's token. The
 * store checks it when the segment begins, so a run whose lock expired (its process was frozen between
 * fetching the job and starting it) cannot take the agent back from the run that holds the job now.
 */
export interface SegmentLock {
  key: string;
  token: string;
}

/**
 * The Redis key of a segment job's lock, as BullMQ spells it (`QueueKeys.toKey(queue, jobId)` + `:lock`, see
 * BullMQ's `extendLock`). The one place outside BullMQ that knows it; a test checks it against the key
 * BullMQ writes while a job runs.
 */
export function segmentLockKey(prefix: string, jobId: string): string {
  return `${new QueueKeys(bullPrefix(prefix)).toKey(QueueName.AgentSegments, jobId)}:lock`;
}

export interface SegmentConsumerOptions {
  prefix: string;
  /** Segments this process runs at once (their decode steps are batched together). */
  concurrency: number;
  /** The lease: a worker that does not renew its lock for this long loses the job to another worker. */
  lockMs: number;
  /** Shown in Redis CLIENT LIST (BullMQ names its connections after the worker). */
  name?: string;
  /** Connection and consumer errors (BullMQ keeps running and reconnects); default: ignored. */
  onError?: (err: Error) => void;
}

/** One run of one segment job, as the code that runs it sees it. */
export interface SegmentRun {
  readonly job: AgentSegmentJob;
  /** This run's lock on the job; absent only for a job BullMQ handed out without a token. */
  readonly lock: SegmentLock | undefined;
  /** Whether this run still holds its job's lock (false: its lease expired and another run may own it). */
  holdsLease(): Promise<boolean>;
}

export type SegmentHandler = (run: SegmentRun) => Promise<void>;

/**
 * The consumer side of the agent-segment queue: a BullMQ worker whose stalled-job check hands a dead
 * worker's segments to a live one, with its lease (lock) renewed by BullMQ while a run is in progress.
 * Created stopped; `start()` once the engine is ready. A handler that throws has its segment retried with
 * capped backoff (see retryDelayMs); one that returns ends the job.
 */
export class SegmentConsumer {
  private readonly worker: Worker<AgentSegmentJob>;
  private running: Promise<void> | undefined;

  constructor(
    private readonly connection: Redis,
    private readonly options: SegmentConsumerOptions,
    handler: SegmentHandler,
  ) {
    this.worker = new Worker<AgentSegmentJob>(
      QueueName.AgentSegments,
      (job, token) => handler(this.runOf(job, token)),
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
    this.worker.on('error', (err) => options.onError?.(err));
  }

  private runOf(job: Job<AgentSegmentJob>, token: string | undefined): SegmentRun {
    const lock = token && job.id ? { key: segmentLockKey(this.options.prefix, job.id), token } : undefined;
    return {
      job: job.data,
      lock,
      holdsLease: async () => !lock || (await this.connection.get(lock.key)) === lock.token,
    };
  }

  /** Starts taking segments (once). Resolves at once; the consumer runs until close(). */
  start(): void {
    this.running ??= this.worker.run().catch((err: Error) => this.options.onError?.(err));
  }

  /** Stops taking new segments; with `waitForRunning`, resolves once the running ones have ended. */
  async pause(waitForRunning = true): Promise<void> {
    await this.worker.pause(!waitForRunning);
  }

  resume(): void {
    this.worker.resume();
  }

  /**
   * Drains: takes no new segments and resolves once every running one has returned (the caller tells its
   * runs to checkpoint and yield first), then closes BullMQ's connections.
   */
  async drain(): Promise<void> {
    await this.worker.close();
  }

  /** Closes at once: running segments are abandoned to the lease timeout (the stalled-job check). */
  async close(): Promise<void> {
    await this.worker.close(true);
  }
}
