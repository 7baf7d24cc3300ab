import type { AgentSegmentJob } from '@gooseherd/contracts';
import {
  nonFiniteError as nonFinite,
  NonFiniteModelOutputError,
  TaskGenerator,
  TURN_SEPARATOR,
  systemTurn,
  taskTurn,
  type BatchedDecoder,
  type ClosingReason,
  type LoadedModel,
} from '@gooseherd/agent-runtime';
import type { SegmentLock, SegmentProducer } from '@gooseherd/queue';
import {
  isTransientRedisFailure,
  type Lease,
  type SegmentStart,
  type WorkerStore,
  type WriteResult,
} from '@gooseherd/store';
import type { Logger } from 'pino';
import {
  EMPTY_CHECKPOINT,
  encodeAgentState,
  isStateError,
  restoreState,
  type AgentCheckpointMeta,
} from './agent-checkpoint.js';
import { generatorOptions, samplingProblem } from './generator-options.js';
import type { TaskRegistry } from './task-registry.js';
import { TokenSink } from './token-sink.js';

export interface SegmentRunnerSettings {
  workerName: string;
  /** Commit the state at least every this many generated tokens. */
  checkpointTokens: number;
  /** Generated tokens after which the segment yields the agent's slot to the queue. */
  segmentTokens: number;
  /** Longest a generated token waits before it is published. */
  flushMs: number;
  /** Prompt tokens fed per engine call between checks for cancel, delete, the lease and drain. */
  prefillSlice: number;
  /** A new task whose prompt (system turn, input, separators) is longer fails instead of being fed. */
  maxPromptTokens: number;
  /**
   * Faults in a row (a segment throwing for a reason other than Redis, a drain or a lost lease) without the
   * task making progress, after which the task fails instead of being retried. Default 3.
   */
  maxFaults?: number;
}

/** Longest fault message copied into a task's `error`. */
const FAULT_MESSAGE_CHARS = 500;

type Running = Extract<SegmentStart, { kind: 'run' }>;

/** Why the decode loop stopped. */
type LoopEnd =
  | { kind: 'finish'; reason: ClosingReason }
  | { kind: 'yield' }
  | { kind: 'fenced' }
  | { kind: 'fault'; error: NonFiniteModelOutputError };

/**
 * Runs one segment of one agent: takes the segment's lease, restores the agent's state, feeds whatever the
 * state has not consumed yet (a prompt, or tokens generated since the last checkpoint by a worker that
 * died), generates, checkpoints every N tokens, and ends by finishing the task or yielding the agent back to
 * the queue. Many segments run at once; their engine calls meet in the BatchedDecoder.
 */
export class SegmentRunner {
  constructor(
    private readonly model: LoadedModel,
    private readonly decoder: BatchedDecoder,
    private readonly store: WorkerStore,
    private readonly producer: SegmentProducer,
    private readonly registry: TaskRegistry,
    private readonly settings: SegmentRunnerSettings,
    private readonly log: Logger,
  ) {}

  /** `lock`: the queue job's lock held by this run (see SegmentLock); without it no lock is checked. */
  async run(job: AgentSegmentJob, lock?: SegmentLock): Promise<void> {
    const start = await this.store.beginSegment(job, this.settings.workerName, lock);
    if (start.kind !== 'run') return;
    const taskId = start.lease.taskId;
    this.registry.add(taskId);
    try {
      await this.runTask(start);
    } catch (err) {
      await this.onFault(start, err);
    } finally {
      this.registry.remove(taskId);
    }
  }

  /**
   * A segment threw. Redis away or not serving now (loading, full, busy), or a drain under way: rethrow, and the queue retries the segment with
   * backoff for as long as it takes. Anything else is a fault of this task (a bug, a poison input): it is
   * retried from the last checkpoint, but after `maxFaults` faults in a row without progress the task fails
   * with the fault's message, so the agent's next task runs.
   */
  private async onFault(start: Running, err: unknown): Promise<void> {
    if (this.registry.draining || isTransientRedisFailure(err)) throw err;
    const { lease, task } = start;
    const faults = await this.store.recordSegmentFault(lease);
    if (faults === 'fenced') return;
    const message = (err instanceof Error ? err.message : String(err)).slice(0, FAULT_MESSAGE_CHARS);
    const limit = this.settings.maxFaults ?? 3;
    this.log.error({ err, agentId: lease.agentId, taskId: lease.taskId, faults, limit }, 'segment failed');
    if (faults < limit) throw err;
    await this.fail(
      lease,
      task.tokensIn,
      `the task failed ${faults} times in a row without progress: ${message}`,
      task.tokensOut,
    );
  }

  private async runTask(start: Running): Promise<void> {
    const { lease, agent, task } = start;
    const log = this.log.child({ agentId: lease.agentId, taskId: lease.taskId });
    if (agent.model !== this.model.modelName) {
      return this.fail(
        lease,
        task.tokensIn,
        `model ${agent.model} is not served by this deployment`,
        task.tokensOut,
      );
    }
    // The record says a state was committed (stateVersion > 0) but the blob is gone (evicted, deleted by
    // mistake): starting from a zero state would silently wipe the agent's memory. Fail, and flag the agent.
    if (!start.state && agent.stateVersion > 0) {
      return this.failForState(
        start,
        `the agent's stored state is missing: its record is at state version ${agent.stateVersion} ` +
          `(${agent.tokensSeen} tokens seen) but the state blob is gone (evicted or deleted)`,
      );
    }
    let restored;
    try {
      restored = restoreState(this.model, start.state);
    } catch (err) {
      if (!isStateError(err)) throw err;
      return this.failForState(start, `the agent's stored state cannot be used: ${err.message}`);
    }
    // The state is usable again (an operator put the blob back): the agent no longer needs attention.
    if (agent.needsAttention) await this.store.setAgentAttention(lease, undefined);
    const meta = (start.checkpoint as AgentCheckpointMeta | undefined) ?? EMPTY_CHECKPOINT;
    const { tokenizer } = this.model;
    const options = generatorOptions(this.model, agent, task, lease.taskId);
    const badSampling = samplingProblem(options, this.model.engine.config.vocabSize);
    if (badSampling) return this.fail(lease, task.tokensIn, badSampling, task.tokensOut);

    let generator: TaskGenerator;
    let chain: number[];
    let tokensIn: number;
    let seenBefore: number;
    let fedReplay = 0;
    let resumedFinish: ClosingReason | undefined;
    if (meta.task?.id === lease.taskId) {
      // Continue this task from its checkpoint; tokens generated after it are durable (clients saw them):
      // feed them instead of generating new ones, so the output stays exactly what was published.
      generator = TaskGenerator.restore(meta.task.generator, options);
      const replayIds = start.outputIds.slice(meta.task.outputTokens);
      const replay = generator.replay(replayIds);
      if (generator.output !== start.output) {
        log.warn({ expected: start.output.length, got: generator.output.length }, 'replayed output differs');
      }
      resumedFinish = replay.finish;
      chain = [...meta.pending, ...replayIds];
      fedReplay = replayIds.length;
      tokensIn = meta.task.tokensIn;
      seenBefore = meta.task.seenBefore;
    } else {
      // A new task. A checkpoint taken mid-way through another task (a fork) gets its turn closed first.
      const close = meta.task ? tokenizer.encode(TURN_SEPARATOR) : [];
      const prompt = (!meta.systemFed && agent.system ? systemTurn(agent.system) : '') + taskTurn(task.input);
      const promptIds = tokenizer.encode(prompt);
      generator = new TaskGenerator(options);
      chain = [...meta.pending, ...close, ...promptIds];
      // Everything this task feeds before generating counts as its input (a fork's closing tokens too).
      tokensIn = chain.length;
      seenBefore = restored.tokensSeen;
    }

    let state = restored.state;
    let tokensSeen = restored.tokensSeen;
    const taskMeta = () => ({
      id: lease.taskId,
      outputTokens: generator.tokensOut,
      tokensIn,
      seenBefore,
      generator: generator.snapshot(),
    });

    // Feed everything but the last token, which the first decode step consumes.
    let pending = chain.pop();
    const fresh = meta.task?.id !== lease.taskId;
    const promptTokens = chain.length + (pending === undefined ? 0 : 1);
    if (fresh && promptTokens > this.settings.maxPromptTokens) {
      return this.fail(
        lease,
        0,
        `the prompt is ${promptTokens} tokens, more than this worker's limit of ${this.settings.maxPromptTokens} ` +
          '(GOOSEHERD_MAX_PROMPT_TOKENS)',
      );
    }
    for (let at = 0; at < chain.length;) {
      // Cancel, delete and a lost lease reach a long prompt between its slices (pub/sub at once, Redis as
      // the fallback). The prompt fed so far is dropped: the agent keeps its last checkpoint.
      const signal = await this.prefillSignal(lease, task.cancelRequested, at > 0);
      if (signal === 'fenced') return;
      if (signal === 'cancel') {
        return this.endUnfed(lease, 'cancelled', fresh ? 0 : tokensIn, generator.tokensOut);
      }
      if (this.registry.draining) {
        const rest = [...chain.slice(at), ...(pending === undefined ? [] : [pending])];
        const meta2: AgentCheckpointMeta = { v: 1, pending: rest, systemFed: true, task: taskMeta() };
        return this.yieldSegment(lease, state, tokensSeen, meta2, generator.tokensOut, tokensIn);
      }
      const slice = chain.slice(at, at + this.settings.prefillSlice);
      state = (await this.decoder.prefill(state, slice)).state;
      tokensSeen += slice.length;
      at += slice.length;
      const bad = nonFinite(state, 'state', tokensSeen - seenBefore);
      if (bad) return this.fail(lease, tokensIn, bad.message, generator.tokensOut);
    }
    if (pending === undefined) {
      return this.fail(lease, tokensIn, 'nothing to feed the model (empty prompt)');
    }
    // Checkpoint once the prompt (or, after a crash, the replayed tokens) is in the state, so a worker lost
    // before the next periodic checkpoint costs at most N tokens again, not N plus this replay.
    if (fresh || fedReplay > 0) {
      const meta2: AgentCheckpointMeta = { v: 1, pending: [pending], systemFed: true, task: taskMeta() };
      const committed = await this.store.commitCheckpoint(lease, {
        state: encodeAgentState(this.model, state, tokensSeen),
        meta: meta2,
        tokensSeen,
        tokensOut: generator.tokensOut,
        tokensIn,
      });
      if (committed.result === 'fenced') return;
    }

    const sink = new TokenSink(this.store, lease, generator.tokensOut, this.settings.flushMs);
    let end: LoopEnd = resumedFinish ? { kind: 'finish', reason: resumedFinish } : { kind: 'yield' };
    let commit: Promise<unknown> = Promise.resolve();
    // Set by checkpoint commits still in flight (the loop does not wait for them).
    const commitState: { signal: WriteResult } = { signal: 'ok' };
    let sinceCheckpoint = 0;
    let generated = 0;
    while (!resumedFinish) {
      if (sink.signal === 'fenced' || commitState.signal === 'fenced') {
        end = { kind: 'fenced' };
        break;
      }
      if (
        task.cancelRequested ||
        this.registry.isCancelled(lease.taskId) ||
        sink.signal === 'cancel' ||
        commitState.signal === 'cancel'
      ) {
        end = { kind: 'finish', reason: 'cancelled' };
        break;
      }
      if (this.registry.draining || generated >= this.settings.segmentTokens) {
        end = { kind: 'yield' };
        break;
      }
      const out = await this.decoder.step(state, pending);
      const bad = nonFinite(out.logits, 'logits', tokensSeen + 1 - seenBefore);
      if (bad) {
        end = { kind: 'fault', error: bad };
        break;
      }
      state = out.state;
      tokensSeen++;
      const next = generator.accept(out.logits);
      pending = next.token;
      generated++;
      sink.push(next.token, next.text);
      if (next.finish) {
        end = { kind: 'finish', reason: next.finish };
        break;
      }
      if (++sinceCheckpoint >= this.settings.checkpointTokens) {
        sinceCheckpoint = 0;
        const badState = nonFinite(state, 'state', tokensSeen - seenBefore);
        if (badState) {
          end = { kind: 'fault', error: badState };
          break;
        }
        sink.flush(); // same connection: the tokens reach Redis before the checkpoint that covers them
        const meta2: AgentCheckpointMeta = { v: 1, pending: [pending], systemFed: true, task: taskMeta() };
        const write = this.store.commitCheckpoint(lease, {
          state: encodeAgentState(this.model, state, tokensSeen),
          meta: meta2,
          tokensSeen,
          tokensOut: generator.tokensOut,
        });
        const noted = write.then((r) => {
          if (r.result !== 'ok' && commitState.signal !== 'fenced') commitState.signal = r.result;
        });
        commit = Promise.all([commit, noted]);
      }
    }

    if (end.kind === 'fenced') {
      sink.discard();
      log.warn('lost the agent to another worker; abandoning the segment');
      return;
    }
    const signal = await sink.settle();
    await commit;
    if (signal === 'fenced' || commitState.signal === 'fenced') return;
    if (end.kind === 'fault') return this.fail(lease, tokensIn, end.error.message, generator.tokensOut);
    // Every state committed below has been checked: a non-finite one fails the task and is never stored.
    const badState = nonFinite(state, 'state', tokensSeen - seenBefore);
    if (badState) return this.fail(lease, tokensIn, badState.message, generator.tokensOut);
    if (end.kind === 'yield') {
      const meta2: AgentCheckpointMeta = { v: 1, pending: [pending], systemFed: true, task: taskMeta() };
      return this.yieldSegment(lease, state, tokensSeen, meta2, generator.tokensOut, tokensIn);
    }
    const reason = end.reason;
    // A finish's last delta came with its token; a cancel releases text held back for a possible stop.
    const flushText = reason === 'cancelled' ? generator.cancel() : '';
    // Close the turn now (the last sampled token, the rest of the stop string, the blank line), so the
    // agent's context between tasks is fully consumed and its token count adds up exactly.
    const closing = generator.closingTokens(reason);
    if (closing.length > 4) {
      state = (await this.decoder.prefill(state, closing)).state;
    } else {
      for (const token of closing) state = (await this.decoder.step(state, token)).state;
    }
    tokensSeen += closing.length;
    const badClosing = nonFinite(state, 'state', tokensSeen - seenBefore);
    if (badClosing) return this.fail(lease, tokensIn, badClosing.message, generator.tokensOut);
    // tokensIn: what the task added to the context besides its output (prompt turn and separators), so
    // that tokensSeen grows by exactly tokensIn + tokensOut.
    tokensIn = tokensSeen - seenBefore - generator.tokensOut;
    const finalMeta: AgentCheckpointMeta = { v: 1, pending: [], systemFed: true };
    const finished = await this.store.finishTask(lease, {
      status: reason === 'cancelled' ? 'cancelled' : 'succeeded',
      finishReason: reason,
      checkpoint: {
        state: encodeAgentState(this.model, state, tokensSeen),
        meta: finalMeta,
        tokensSeen,
        tokensOut: generator.tokensOut,
      },
      tokensIn,
      tokensOut: generator.tokensOut,
      flushText,
    });
    if (finished.next) await this.producer.enqueue(finished.next);
  }

  private async yieldSegment(
    lease: Lease,
    state: Float32Array,
    tokensSeen: number,
    meta: AgentCheckpointMeta,
    tokensOut: number,
    tokensIn: number,
  ): Promise<void> {
    const r = await this.store.commitCheckpoint(
      lease,
      { state: encodeAgentState(this.model, state, tokensSeen), meta, tokensSeen, tokensOut, tokensIn },
      true,
    );
    if (r.next) await this.producer.enqueue(r.next);
  }

  /** What stops a prompt between slices: a cancel (or delete) told by pub/sub or read from Redis, or a lost lease. */
  private async prefillSignal(
    lease: Lease,
    cancelRequested: boolean,
    askRedis: boolean,
  ): Promise<WriteResult> {
    if (cancelRequested || this.registry.isCancelled(lease.taskId)) return 'cancel';
    return askRedis ? this.store.segmentSignal(lease) : 'ok';
  }

  /** Ends the task before its prompt was fed, leaving the agent's last checkpoint as it was. */
  private async endUnfed(
    lease: Lease,
    status: 'cancelled',
    tokensIn: number,
    tokensOut: number,
  ): Promise<void> {
    const r = await this.store.finishTask(lease, { status, finishReason: status, tokensIn, tokensOut });
    if (r.next) await this.producer.enqueue(r.next);
  }

  /**
   * The agent's stored state cannot be used: the task fails naming why, and the agent is marked as needing
   * attention (GET /v1/agents/{id} shows `needsAttention`), its record left as it was.
   */
  private async failForState(start: Running, error: string): Promise<void> {
    const { lease, task } = start;
    if (!(await this.store.setAgentAttention(lease, error))) return; // fenced: another worker has the agent
    this.log.warn({ agentId: lease.agentId, taskId: lease.taskId, error }, 'agent needs attention');
    return this.fail(lease, task.tokensIn, `${error}; the agent needs attention`, task.tokensOut);
  }

  /** Ends the task as failed, leaving the agent's last checkpoint as it was. */
  private async fail(lease: Lease, tokensIn: number, error: string, tokensOut = 0): Promise<void> {
    this.log.warn({ agentId: lease.agentId, taskId: lease.taskId, error }, 'task failed');
    const r = await this.store.finishTask(lease, {
      status: 'failed',
      finishReason: 'error',
      error,
      tokensIn,
      tokensOut,
    });
    if (r.next) await this.producer.enqueue(r.next);
  }
}
