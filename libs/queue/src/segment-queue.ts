import { Queue } from 'bullmq';
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

/** Stack traces BullMQ keeps on a segment job (one per failed attempt; older ones are dropped). */
export const STACK_TRACES_KEPT = 3;

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
      // the worker fails a task whose segment keeps throwing for another reason (see apps/worker).
      attempts: Number.MAX_SAFE_INTEGER,
      backoff: { type: 'capped' },
      // BullMQ keeps one stack trace per failed attempt on the job; a segment retried for hours keeps the last few.
      stackTraceLimit: STACK_TRACES_KEPT,
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
