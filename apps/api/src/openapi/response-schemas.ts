import {
  EVENT_KINDS,
  SamplingSchema,
  TASK_STATUSES,
  type AgentView,
  type ProblemDetails,
  type TaskAccepted,
  type TaskEvent,
  type TaskView,
} from '@gooseherd/contracts';
import { z } from 'zod';

/**
 * Zod mirrors of the response interfaces in @gooseherd/contracts, used only to document them. The
 * `Same` checks below fail to compile when a mirror drifts from its interface.
 */
const FinishReasonSchema = z.enum(['stop', 'length', 'end_of_text', 'cancelled', 'error']);

export const AgentViewSchema = z.object({
  id: z.string(),
  model: z.string(),
  stateVersion: z.int().describe("bumped on every committed checkpoint of the agent's state"),
  tokensSeen: z.int().describe("tokens the agent's state has consumed since creation"),
  createdAt: z.string(),
  system: z.string().optional(),
  sampling: SamplingSchema.optional(),
  pendingTasks: z.int().optional(),
  forkedFrom: z.string().optional(),
  needsAttention: z
    .object({
      reason: z.string().describe("why: the agent's stored state is missing or damaged"),
      since: z.string(),
      taskId: z.string().describe('the task that found it (and failed)'),
    })
    .optional()
    .describe(
      "present when the agent's stored state could not be used: its tasks fail until an operator restores it",
    ),
});

export const AgentPageSchema = z.object({
  items: z.array(AgentViewSchema),
  nextCursor: z.string().optional().describe('pass as `cursor` for the next page; absent on the last page'),
});

export const TaskViewSchema = z.object({
  id: z.string(),
  agentId: z.string(),
  status: z.enum(TASK_STATUSES),
  output: z.string(),
  tokensIn: z.int(),
  tokensOut: z.int(),
  attempts: z.int(),
  worker: z.string().nullable(),
  error: z.string().optional(),
  finishReason: FinishReasonSchema.optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
});

export const TaskAcceptedSchema = z.object({
  id: z.string(),
  agentId: z.string(),
  status: z.literal('queued'),
});

export const TaskCancelSchema = z.object({ id: z.string(), status: z.enum(TASK_STATUSES) });

export const TaskEventSchema = z.object({
  seq: z.int().describe("position in the task's log, from 1 without gaps; the SSE `id`"),
  taskId: z.string(),
  agentId: z.string(),
  kind: z.enum(EVENT_KINDS),
  data: z
    .record(z.string(), z.unknown())
    .describe('shape depends on kind (EventDataMap in @gooseherd/contracts)'),
  agentSeq: z.int().describe("position in the agent's log (all its tasks)"),
  at: z.string(),
});

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.int(),
  detail: z.string().optional(),
  instance: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const checks: [
  Same<z.infer<typeof AgentViewSchema>, AgentView>,
  Same<z.infer<typeof TaskViewSchema>, TaskView>,
  Same<z.infer<typeof TaskAcceptedSchema>, TaskAccepted>,
  Same<z.infer<typeof ProblemSchema>, ProblemDetails>,
  Same<Omit<z.infer<typeof TaskEventSchema>, 'data'>, Omit<TaskEvent, 'data'>>,
] = [true, true, true, true, true];
void checks;
