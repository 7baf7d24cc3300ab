import { createHash } from 'node:crypto';
import type { Sampling } from '@gooseherd/contracts';
import type { LoadedModel, TaskGeneratorOptions } from '@gooseherd/agent-runtime';
import type { SegmentAgent, SegmentTask } from '@gooseherd/store';

/** A task without a seed still samples reproducibly: its seed derives from its id. */
export function seedFromId(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32LE(0);
}

/** Sampler settings of a task: the agent's defaults, overridden field by field by the task's own. */
export function generatorOptions(
  model: LoadedModel,
  agent: Pick<SegmentAgent, 'sampling'>,
  task: Pick<SegmentTask, 'sampling' | 'maxTokens' | 'stop'>,
  taskId: string,
): TaskGeneratorOptions {
  const s: Sampling = { ...agent.sampling, ...task.sampling };
  const logitBias: Record<number, number> = {};
  for (const [id, bias] of Object.entries({ ...agent.sampling?.logitBias, ...task.sampling?.logitBias })) {
    logitBias[Number(id)] = bias;
  }
  const { logitBias: _ignored, seed, ...rest } = s;
  return {
    tokenizer: model.tokenizer,
    sampling: { ...rest, logitBias },
    maxTokens: task.maxTokens,
    stop: task.stop,
    bannedTokens: model.bannedTokens,
    seed: seed ?? seedFromId(taskId),
  };
}

/**
 * A reason the task's sampling cannot run on this model (the API checks ranges; only the worker knows the
 * model's vocabulary), or undefined. Such a task fails at once with this message instead of being retried.
 */
export function samplingProblem(options: TaskGeneratorOptions, vocabSize: number): string | undefined {
  for (const id of Object.keys(options.sampling?.logitBias ?? {})) {
    if (Number(id) >= vocabSize)
      return `sampling.logitBias: token ${id} is not in this model's vocabulary (ids 0–${vocabSize - 1})`;
  }
  return undefined;
}
