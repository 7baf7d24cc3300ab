import type {
  AgentSegmentJob,
  AgentView,
  CreateTaskBody,
  Page,
  Sampling,
  TaskAccepted,
  TaskEvent,
  TaskView,
} from '@gooseherd/contracts';

/** What the API needs from Redis. Every read is scoped by tenant: another tenant's ids read as absent. */
export interface ApiStore {
  /** Resolves when Redis answers (readiness). */
  ping(): Promise<void>;

  /** Throws AgentLimitError when the tenant already holds `maxAgents`. */
  createAgent(
    tenantId: string,
    input: { model: string; system?: string; sampling?: Sampling },
    maxAgents: number,
  ): Promise<AgentView>;
  getAgent(tenantId: string, agentId: string): Promise<AgentView | undefined>;
  listAgents(tenantId: string, limit: number, cursor?: string): Promise<Page<AgentView>>;
  /** Deletes the agent, its state and its mailbox; queued tasks become cancelled. False if absent. */
  deleteAgent(tenantId: string, agentId: string): Promise<boolean>;
  /** A new agent with a copy of the last committed state: O(state size), independent of context length. */
  forkAgent(tenantId: string, agentId: string, maxAgents: number): Promise<AgentView | undefined>;

  /**
   * Stores the task, appends it to the agent's mailbox and its `queued` event, all in one step. When the
   * agent was idle, `segment` is the job the caller must enqueue (a reconciler re-enqueues it if the
   * caller dies first). Undefined when the agent does not exist for this tenant.
   */
  submitTask(
    tenantId: string,
    agentId: string,
    task: Required<Pick<CreateTaskBody, 'input' | 'maxTokens'>> & Pick<CreateTaskBody, 'stop' | 'sampling'>,
    options?: SubmitOptions,
  ): Promise<{ task: TaskAccepted; segment?: AgentSegmentJob; replayed?: boolean } | undefined>;
  getTask(tenantId: string, taskId: string): Promise<TaskView | undefined>;
  /**
   * Queued → cancelled at once ('cancelled'); running → the worker is told and stops within a step
   * ('requested'); already final → 'final'. Undefined when absent for this tenant.
   */
  cancelTask(tenantId: string, taskId: string): Promise<'cancelled' | 'requested' | 'final' | undefined>;

  /** Events of one task with seq > after, oldest first, at most `count`. */
  readTaskEvents(taskId: string, after: number, count: number): Promise<TaskEvent[]>;
  /** Events of all of an agent's tasks with agentSeq > after, oldest first, at most `count`. */
  readAgentEvents(agentId: string, after: number, count: number): Promise<TaskEvent[]>;
}

export interface SubmitOptions {
  /**
   * The client's Idempotency-Key: within 24 h the same key and body return the task it created (`replayed`)
   * instead of a new one; the same key with another body throws IdempotencyConflictError.
   */
  idempotencyKey?: string;
}

/** The agent already holds the most tasks waiting or running (GOOSEHERD_MAX_QUEUED_TASKS). */
export class QueuedTaskLimitError extends Error {
  constructor(readonly limit: number) {
    super(`this agent already holds the maximum of ${limit} waiting or running tasks`);
    this.name = 'QueuedTaskLimitError';
  }
}

/** The tenant stored its maximum of bytes within the retention period (GOOSEHERD_MAX_TENANT_BYTES). */
export class TenantStorageLimitError extends Error {
  constructor(readonly limit: number) {
    super(`this tenant has stored its maximum of ${limit} bytes of task input and output`);
    this.name = 'TenantStorageLimitError';
  }
}

/** An Idempotency-Key was used before with a different request body. */
export class IdempotencyConflictError extends Error {
  constructor() {
    super('this Idempotency-Key was used with a different request body');
    this.name = 'IdempotencyConflictError';
  }
}

/** Thrown by createAgent / forkAgent when the tenant is at its agent limit (→ HTTP 409/429 at the edge). */
export class AgentLimitError extends Error {
  constructor(readonly limit: number) {
    super(`this tenant already holds the maximum of ${limit} agents`);
    this.name = 'AgentLimitError';
  }
}
