import type { CreateTaskBody, Sampling, TaskView } from '@gooseherd/contracts';
import { StopWaiting, describeValue, waitFor } from './deadline.js';
import type { ApiClient } from './rest-client.js';

/**
 * Sampling for the embedded random model that never ends a task early: end-of-text (token 0 of the byte-level
 * tokenizer) is banned and there are no stop strings, so a task generates exactly maxTokens tokens.
 */
export const NO_END_OF_TEXT: Sampling = { temperature: 1, logitBias: { '0': -100 } };

/** A task that runs exactly `maxTokens` tokens. */
export function exactLengthTask(
  maxTokens: number,
  input = 'The goose walks on.',
  sampling: Sampling = {},
): CreateTaskBody {
  return { input, maxTokens, stop: [], sampling: { ...NO_END_OF_TEXT, ...sampling } };
}

/**
 * Waits until the task runs and has generated at least `tokens` tokens; fails clearly when it finished first
 * (the workload was too short for what the test does mid-task).
 */
export async function waitForProgress(
  client: ApiClient,
  taskId: string,
  tokens: number,
  timeoutMs = 60_000,
): Promise<TaskView> {
  return waitFor(
    async (seen) => {
      const task = await client.getTask(taskId);
      seen({ ...task, output: `(${task.output.length} chars)` });
      if (task.status !== 'queued' && task.status !== 'running') {
        throw new StopWaiting(
          `task ${taskId} ended (${describeValue({ ...task, output: undefined })}) before ${tokens} tokens`,
        );
      }
      return task.status === 'running' && task.tokensOut >= tokens && task.worker !== null && task;
    },
    { timeoutMs, what: `task ${taskId} to run and reach ${tokens} output tokens`, intervalMs: 20 },
  );
}

/** Milliseconds between two ISO times. */
export function msBetween(fromIso: string | undefined, toIso: string | undefined): number {
  if (!fromIso || !toIso) throw new Error(`missing time: ${fromIso} → ${toIso}`);
  return Date.parse(toIso) - Date.parse(fromIso);
}
