/**
 * An agent's turn: the protocol between an agent's stored checkpoint and one task, with no I/O. It decides
 * what the state must be fed before generating (the previous turn's pending tokens, a fork's unfinished
 * turn closed, the system turn once, the task's turn; or, resuming, the tokens published after the last
 * checkpoint), keeps the task's token accounting, writes the checkpoint records, and closes the turn so the
 * state ends on a turn boundary. The worker does the I/O around it: lease, engine calls, token sink, commits.
 */
import { z } from 'zod';
import { systemTurn, taskTurn, TURN_SEPARATOR } from './chat-format.js';
import {
  TaskGenerator,
  type AcceptResult,
  type ClosingReason,
  type GeneratorSnapshot,
  type TaskGeneratorOptions,
} from './task-generation.js';
import type { TextTokenizer } from './text-tokenizer.js';

const count = z.int().nonnegative();

/**
 * What is stored beside an agent's state blob (version 1). The state has consumed every token of the
 * agent's context except `pending`, which the next engine call feeds first: during generation that is the
 * last sampled token; a finished task feeds its turn's closing tokens before its final checkpoint, so
 * between tasks it is empty.
 */
export const AgentCheckpointSchema = z.strictObject({
  v: z.literal(1),
  pending: z.array(count),
  /** The system prompt is part of the state already. */
  systemFed: z.boolean(),
  /** Present while a task is mid-way: enough to resume it exactly. */
  task: z
    .strictObject({
      id: z.string().min(1),
      /** Output tokens the state accounts for (the last of them is `pending`). */
      outputTokens: count,
      tokensIn: count,
      /** Tokens the state had consumed when the task started (its accounting base). */
      seenBefore: count,
      /** The generator's own snapshot (versioned by TaskGenerator.restore). */
      generator: z.custom<GeneratorSnapshot>(
        (g) => typeof g === 'object' && g !== null && (g as { v?: unknown }).v === 1,
        'a generator snapshot of version 1',
      ),
    })
    .optional(),
});
export type AgentCheckpoint = z.infer<typeof AgentCheckpointSchema>;

export const EMPTY_CHECKPOINT: AgentCheckpoint = { v: 1, pending: [], systemFed: false };

/** A stored checkpoint record that is not one this runtime can resume from. */
export class CheckpointRecordError extends Error {
  constructor(detail: string) {
    super(`the agent's checkpoint record cannot be used: ${detail}`);
    this.name = 'CheckpointRecordError';
  }
}

/** Parses a stored checkpoint record (absent: a new agent); throws CheckpointRecordError naming the field. */
export function parseCheckpoint(raw: unknown): AgentCheckpoint {
  if (raw === undefined || raw === null) return EMPTY_CHECKPOINT;
  const parsed = AgentCheckpointSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CheckpointRecordError(`${issue.path.join('.') || '(record)'}: ${issue.message}`);
}

export interface AgentTurnStart {
  readonly taskId: string;
  /** The agent's last checkpoint record (parsed) and the tokens its state has consumed. */
  readonly checkpoint: AgentCheckpoint;
  readonly tokensSeen: number;
  readonly system: string;
  readonly input: string;
  readonly tokenizer: TextTokenizer;
  readonly generator: TaskGeneratorOptions;
  /** The task's output already durable (what clients saw): ids and text. */
  readonly outputIds: readonly number[];
  readonly output: string;
}

export class AgentTurn {
  /** A new task (not a resume of a checkpoint taken mid-way through this task). */
  readonly fresh: boolean;
  /** Tokens to feed before the first decode step (the last of the chain is `pending`). */
  readonly feed: readonly number[];
  /** The token the next decode step consumes (undefined: nothing to feed at all). */
  pending: number | undefined;
  /** Tokens this resume feeds again because clients saw them after the last checkpoint. */
  readonly replayed: number;
  /** A resumed task whose replay already reached its finish. */
  readonly resumedFinish: ClosingReason | undefined;
  /** Replayed text that differs from the durable output (should never happen; logged by the worker). */
  readonly replayMismatch: { expected: number; got: number } | undefined;
  readonly seenBefore: number;
  private tokensInValue: number;

  private constructor(
    readonly taskId: string,
    readonly generator: TaskGenerator,
    init: {
      fresh: boolean;
      chain: number[];
      replayed: number;
      resumedFinish?: ClosingReason;
      replayMismatch?: { expected: number; got: number };
      tokensIn: number;
      seenBefore: number;
    },
  ) {
    this.fresh = init.fresh;
    this.replayed = init.replayed;
    this.resumedFinish = init.resumedFinish;
    this.replayMismatch = init.replayMismatch;
    this.tokensInValue = init.tokensIn;
    this.seenBefore = init.seenBefore;
    const chain = [...init.chain];
    this.pending = chain.pop();
    this.feed = chain;
  }

  static begin(start: AgentTurnStart): AgentTurn {
    const meta = start.checkpoint;
    if (meta.task?.id === start.taskId) {
      // Continue this task from its checkpoint; tokens generated after it are durable (clients saw them):
      // feed them instead of generating new ones, so the output stays exactly what was published.
      const generator = TaskGenerator.restore(meta.task.generator, start.generator);
      const replayIds = start.outputIds.slice(meta.task.outputTokens);
      const replay = generator.replay(replayIds);
      return new AgentTurn(start.taskId, generator, {
        fresh: false,
        chain: [...meta.pending, ...replayIds],
        replayed: replayIds.length,
        resumedFinish: replay.finish,
        replayMismatch:
          generator.output === start.output
            ? undefined
            : { expected: start.output.length, got: generator.output.length },
        tokensIn: meta.task.tokensIn,
        seenBefore: meta.task.seenBefore,
      });
    }
    // A new task. A checkpoint taken mid-way through another task (a fork) gets its turn closed first.
    const close = meta.task ? start.tokenizer.encode(TURN_SEPARATOR) : [];
    const prompt = (!meta.systemFed && start.system ? systemTurn(start.system) : '') + taskTurn(start.input);
    const chain = [...meta.pending, ...close, ...start.tokenizer.encode(prompt)];
    return new AgentTurn(start.taskId, new TaskGenerator(start.generator), {
      fresh: true,
      chain,
      replayed: 0,
      // Everything this task feeds before generating counts as its input (a fork's closing tokens too).
      tokensIn: chain.length,
      seenBefore: start.tokensSeen,
    });
  }

  /** What the task added to the context besides its output (prompt turn and separators). */
  get tokensIn(): number {
    return this.tokensInValue;
  }

  get tokensOut(): number {
    return this.generator.tokensOut;
  }

  /** Tokens fed before the first decode step, pending included (what a prompt limit bounds). */
  get promptTokens(): number {
    return this.feed.length + (this.pending === undefined ? 0 : 1);
  }

  /** Samples the next token from the logits of the pending one; it becomes the pending token. */
  accept(logits: Float32Array): AcceptResult {
    const next = this.generator.accept(logits);
    this.pending = next.token;
    return next;
  }

  /**
   * The record of a checkpoint taken mid-task, whose state has consumed everything but `pending` (default:
   * the pending token; a prompt cut short by a drain passes the rest of its feed).
   */
  checkpoint(pending: readonly number[] = this.pending === undefined ? [] : [this.pending]): AgentCheckpoint {
    return {
      v: 1,
      pending: [...pending],
      systemFed: true,
      task: {
        id: this.taskId,
        outputTokens: this.generator.tokensOut,
        tokensIn: this.tokensInValue,
        seenBefore: this.seenBefore,
        generator: this.generator.snapshot(),
      },
    };
  }

  /**
   * Closes the turn: text held back for a possible stop string (released on cancel) and the tokens to feed
   * so the state ends on the turn boundary (the last sampled token, the rest of the stop string, the blank
   * line).
   */
  close(reason: ClosingReason): { flushText: string; closing: number[] } {
    const flushText = reason === 'cancelled' ? this.generator.cancel() : '';
    return { flushText, closing: this.generator.closingTokens(reason) };
  }

  /**
   * After the closing tokens were fed: the final record (nothing pending) and the task's input count, such
   * that the agent's tokensSeen grew by exactly tokensIn + tokensOut.
   */
  finish(tokensSeen: number): { checkpoint: AgentCheckpoint; tokensIn: number } {
    this.tokensInValue = tokensSeen - this.seenBefore - this.generator.tokensOut;
    return { checkpoint: { v: 1, pending: [], systemFed: true }, tokensIn: this.tokensInValue };
  }
}
