import type { TaskEvent } from '@gooseherd/contracts';

/**
 * Live, gap-free delivery of event logs to one API instance's clients. A follower first replays what is
 * stored after `after`, then delivers new events as workers append them; it never skips or repeats a
 * sequence number, also across Redis reconnects (it re-reads from its cursor).
 */
export interface EventFeed {
  /** Follows one task's log (by `seq`). Returns a function that stops following. */
  followTask(taskId: string, after: number, onEvent: (event: TaskEvent) => void): () => void;
  /** Follows all of an agent's tasks (by `agentSeq`). */
  followAgent(agentId: string, after: number, onEvent: (event: TaskEvent) => void): () => void;
  close(): Promise<void>;
}
