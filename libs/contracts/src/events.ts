import type { FinishReason } from './records.js';

export const EVENT_KINDS = [
  'queued',
  'started',
  'token',
  'checkpoint',
  'resumed',
  'completed',
  'failed',
  'cancelled',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** `data` of each event kind. */
export interface EventDataMap {
  queued: { position: number };
  started: { worker: string; attempt: number };
  /** `text` is the delta; concatenating a task's token texts gives its output. */
  token: { text: string; tokensOut: number };
  checkpoint: { tokensOut: number; stateVersion: number; tokensSeen: number };
  /** `fromToken`: output tokens already durable (and already streamed) when this attempt began. */
  resumed: { fromToken: number; worker: string; attempt: number };
  completed: { finishReason: FinishReason; tokensIn: number; tokensOut: number };
  failed: { error: string };
  cancelled: { tokensOut: number };
}

/** One event of a task's log. `seq` counts from 1 per task, without gaps. */
export interface TaskEvent<K extends EventKind = EventKind> {
  seq: number;
  taskId: string;
  agentId: string;
  kind: K;
  data: EventDataMap[K];
  /** Position in the agent's log (all of the agent's tasks); resume an agent subscription with it. */
  agentSeq: number;
  /** ISO time the event was written. */
  at: string;
}

export const FINAL_EVENT_KINDS: readonly EventKind[] = ['completed', 'failed', 'cancelled'];
