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
  ): Promise<{ task: TaskAccepted; segment?: AgentSegmentJob } | undefined>;
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

/** Thrown by createAgent / forkAgent when the tenant is at its agent limit (→ HTTP 409/429 at the edge). */
export class AgentLimitError extends Error {
  constructor(readonly limit: number) {
    super(`this tenant already holds the maximum of ${limit} agents`);
    this.name = 'AgentLimitError';
  }
}
