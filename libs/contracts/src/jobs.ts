/**
 * Queue names and job payloads. The names are persisted in Redis: never change a value, add new ones.
 */
export enum QueueName {
  AgentSegments = 'gh-agent-segments',
}

/**
 * One bounded segment of one agent's work. `seq` is the agent's segment number at enqueue time: the
 * store refuses to start a segment whose seq is not the agent's current one, so a duplicate job is a no-op.
 */
export interface AgentSegmentJob {
  agentId: string;
  tenantId: string;
  seq: number;
  /**
   * BullMQ priority (lower runs first): how many agents of the tenant had work scheduled when this segment
   * was enqueued. A tenant with a deep backlog queues behind a tenant with one task (fair share per tenant).
   */
  priority: number;
}
