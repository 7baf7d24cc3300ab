import type { Sampling } from './rest-schemas.js';

export const TASK_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

/** `GET /v1/agents/{id}` body. */
export interface AgentView {
  id: string;
  model: string;
  /** Bumped on every committed checkpoint of the agent's state. */
  stateVersion: number;
  /** Tokens the agent's state has consumed (prompt and generated) since creation. */
  tokensSeen: number;
  createdAt: string;
  system?: string;
  sampling?: Sampling;
  /** Tasks waiting in the agent's mailbox (the running one included). */
  pendingTasks?: number;
  forkedFrom?: string;
  /**
   * Present when the agent needs an operator: its stored state could not be used (the blob is missing or
   * damaged), so its tasks fail instead of running from a wiped memory. Cleared by the first task that
   * restores the state again (e.g. after the blob was put back from a backup).
   */
  needsAttention?: AgentAttention;
}

/** Why an agent needs attention, since when, and the task that found it. */
export interface AgentAttention {
  reason: string;
  since: string;
  taskId: string;
}

export type FinishReason = 'stop' | 'length' | 'end_of_text' | 'cancelled' | 'error';

/** `GET /v1/tasks/{id}` body. */
export interface TaskView {
  id: string;
  agentId: string;
  status: TaskStatus;
  /** Text generated so far (durable part); final once status is final. */
  output: string;
  tokensIn: number;
  /** Output tokens generated so far; counts live while running. */
  tokensOut: number;
  /** Executions started for this task: 1, plus one per resume after a lost worker. */
  attempts: number;
  /** The worker process that runs (or ran) the task, `host:pid`; null before it starts. */
  worker: string | null;
  error?: string;
  finishReason?: FinishReason;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** `POST /v1/agents/{id}/tasks` body (202). */
export interface TaskAccepted {
  id: string;
  agentId: string;
  status: 'queued';
}

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; absent on the last page. */
  nextCursor?: string;
}

/** RFC 9457 problem details (`application/problem+json`). */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  /** Field-level errors, each naming the field by its path (`sampling.topP`). */
  errors?: { field: string; message: string }[];
}
