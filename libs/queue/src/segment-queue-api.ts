import type { AgentSegmentJob } from '@gooseherd/contracts';

/** The producer side of the agent-segment queue, as the API sees it. */
export interface SegmentProducer {
  /** Idempotent: a job with the same agentId and seq is added once. */
  enqueue(job: AgentSegmentJob): Promise<void>;
  /** Jobs waiting (not running) across all tenants, for /metrics. */
  waitingCount(): Promise<number>;
  close(): Promise<void>;
}
