import type {
  AgentAttention,
  AgentView,
  FinishReason,
  Sampling,
  TaskStatus,
  TaskView,
} from '@gooseherd/contracts';

/** Redis hash fields → API views. Empty strings stand for "absent" (HSET cannot store nil). */

export function parseJsonField<T>(raw: string | undefined): T | undefined {
  return raw ? (JSON.parse(raw) as T) : undefined;
}

export function agentView(h: Record<string, string>, pendingTasks?: number): AgentView {
  const view: AgentView = {
    id: h.id,
    model: h.model,
    stateVersion: Number(h.stateVersion ?? 0),
    tokensSeen: Number(h.tokensSeen ?? 0),
    createdAt: h.createdAt,
  };
  if (h.system) view.system = h.system;
  const sampling = parseJsonField<Sampling>(h.sampling);
  if (sampling) view.sampling = sampling;
  if (pendingTasks !== undefined) view.pendingTasks = pendingTasks;
  if (h.forkedFrom) view.forkedFrom = h.forkedFrom;
  const attention = parseJsonField<AgentAttention>(h.attention);
  if (attention) view.needsAttention = attention;
  return view;
}

export function taskView(h: Record<string, string>, output: string): TaskView {
  const view: TaskView = {
    id: h.id,
    agentId: h.agentId,
    status: h.status as TaskStatus,
    output,
    tokensIn: Number(h.tokensIn ?? 0),
    tokensOut: Number(h.tokensOut ?? 0),
    attempts: Number(h.attempts ?? 0),
    worker: h.worker || null,
    createdAt: h.createdAt,
  };
  if (h.error) view.error = h.error;
  if (h.finishReason) view.finishReason = h.finishReason as FinishReason;
  if (h.startedAt) view.startedAt = h.startedAt;
  if (h.finishedAt) view.finishedAt = h.finishedAt;
  return view;
}
