import type { AgentSegmentJob } from '@gooseherd/contracts';
import {
  AgentTurn,
  CheckpointRecordError,
  nonFiniteError as nonFinite,
  NonFiniteModelOutputError,
  parseCheckpoint,
  type AgentCheckpoint,
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
import { encodeAgentState, isStateError, restoreState } from './agent-checkpoint.js';
import { generatorOptions, samplingProblem } from './generator-options.js';
import { stopReason, type TaskRegistry } from './task-registry.js';
import { TokenSink } from './token-sink.js';
import type { WorkerMetrics } from './worker-metrics.js';

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
    private readonly metrics?: WorkerMetrics,
  ) {}

  /** `lock`: the queue job's lock held by this run (see SegmentLock); without it no lock is checked. */
  async run(job: AgentSegmentJob, lock?: SegmentLock): Promise<void> {
    const start = await this.store.beginSegment(job, this.settings.workerName, lock);
    if (start.kind !== 'run') return;
    const taskId = start.lease.taskId;
    const stop = this.registry.add(taskId);
    if (start.task.cancelRequested) stop.abort('cancel');
    const began = performance.now();
    this.metrics?.segmentsRunning.inc();
    let outcome: 'ended' | 'threw' = 'threw';
    try {
      await this.runTask(start, stop);
      outcome = 'ended';
    } catch (err) {
      await this.onFault(start, err);
      outcome = 'ended';
    } finally {
      this.registry.remove(taskId);
      this.metrics?.segmentsRunning.dec();
      this.metrics?.segmentEnded(outcome, (performance.now() - began) / 1000);
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

  private async runTask(start: Running, stop: AbortController): Promise<void> {
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
    let checkpoint: AgentCheckpoint;
    try {
      restored = restoreState(this.model, start.state);
      checkpoint = parseCheckpoint(start.checkpoint);
    } catch (err) {
      if (!isStateError(err) && !(err instanceof CheckpointRecordError)) throw err;
      const message = isStateError(err)
        ? `the agent's stored state cannot be used: ${err.message}`
        : err.message;
      return this.failForState(start, message);
    }
    // A state checkpointed with NaN or ±Infinity (by a worker before the non-finite checks) can never
    // produce a token: fail at once, and flag the agent, instead of retrying a task that cannot run.
    const storedBad = nonFinite(restored.state, 'state', 0);
    if (storedBad) {
      return this.failForState(
        start,
        `the agent's stored state cannot be used: it holds a non-finite value ` +
          `(state[${storedBad.index}] = ${storedBad.value})`,
      );
    }
    // The state is usable again (an operator put the blob back): the agent no longer needs attention.
    if (agent.needsAttention) await this.store.setAgentAttention(lease, undefined);
    const options = generatorOptions(this.model, agent, task, lease.taskId);
    const badSampling = samplingProblem(options, this.model.engine.config.vocabSize);
    if (badSampling) return this.fail(lease, task.tokensIn, badSampling, task.tokensOut);

    const turn = AgentTurn.begin({
      taskId: lease.taskId,
      checkpoint,
      tokensSeen: restored.tokensSeen,
      system: agent.system,
      input: task.input,
      tokenizer: this.model.tokenizer,
      generator: options,
      outputIds: start.outputIds,
      output: start.output,
    });
    if (turn.replayMismatch) log.warn(turn.replayMismatch, 'replayed output differs');
    if (turn.fresh && turn.promptTokens > this.settings.maxPromptTokens) {
      return this.fail(
        lease,
        0,
        `the prompt is ${turn.promptTokens} tokens, more than this worker's limit of ${this.settings.maxPromptTokens} ` +
          '(GOOSEHERD_MAX_PROMPT_TOKENS)',
      );
    }
    let state = restored.state;
    let tokensSeen = restored.tokensSeen;
    const fedThisTask = () => tokensSeen - turn.seenBefore;

    // Feed everything but the last token, which the first decode step consumes. Cancel, delete, a lost lease
    // and a drain reach a long prompt between its slices (pub/sub at once; Redis asked as the fallback).
    const { feed } = turn;
    for (let at = 0; at < feed.length;) {
      if (at > 0 && !stop.signal.aborted) {
        const signal = await this.store.segmentSignal(lease);
        if (signal !== 'ok') stop.abort(signal);
      }
      const reason = stopReason(stop);
      if (reason === 'fenced') return;
      if (reason === 'cancel') {
        // The prompt fed so far is dropped: the agent keeps its last checkpoint.
        return this.endUnfed(lease, 'cancelled', turn.fresh ? 0 : turn.tokensIn, turn.tokensOut);
      }
      if (reason === 'drain') {
        const rest = [...feed.slice(at), ...(turn.pending === undefined ? [] : [turn.pending])];
        return this.yieldSegment(
          lease,
          state,
          tokensSeen,
          turn.checkpoint(rest),
          turn.tokensOut,
          turn.tokensIn,
        );
      }
      const slice = feed.slice(at, at + this.settings.prefillSlice);
      state = (await this.decoder.prefill(state, slice)).state;
      tokensSeen += slice.length;
      at += slice.length;
      const bad = nonFinite(state, 'state', fedThisTask());
      if (bad) return this.fail(lease, turn.tokensIn, bad.message, turn.tokensOut);
    }
    if (turn.pending === undefined) {
      return this.fail(lease, turn.tokensIn, 'nothing to feed the model (empty prompt)');
    }
    // Checkpoint once the prompt (or, after a crash, the replayed tokens) is in the state, so a worker lost
    // before the next periodic checkpoint costs at most N tokens again, not N plus this replay.
    if (turn.fresh || turn.replayed > 0) {
      const committed = await this.store.commitCheckpoint(lease, {
        state: this.encodeState(state, tokensSeen),
        meta: turn.checkpoint(),
        tokensSeen,
        tokensOut: turn.tokensOut,
        tokensIn: turn.tokensIn,
      });
      if (committed.result === 'fenced') return;
      if (committed.result === 'cancel') stop.abort('cancel');
    }

    const sink = new TokenSink(this.store, lease, turn.tokensOut, this.settings.flushMs, stop);
    let end: LoopEnd = turn.resumedFinish
      ? { kind: 'finish', reason: turn.resumedFinish }
      : { kind: 'yield' };
    let commit: Promise<unknown> = Promise.resolve();
    // Set by checkpoint commits still in flight (the loop does not wait for them).
    const commitState: { signal: WriteResult } = { signal: 'ok' };
    let sinceCheckpoint = 0;
    let generated = 0;
    while (!turn.resumedFinish) {
      const reason = stopReason(stop);
      if (reason === 'fenced') {
        end = { kind: 'fenced' };
        break;
      }
      if (reason === 'cancel') {
        end = { kind: 'finish', reason: 'cancelled' };
        break;
      }
      if (reason === 'drain' || generated >= this.settings.segmentTokens) {
        end = { kind: 'yield' };
        break;
      }
      const out = await this.decoder.step(state, turn.pending);
      const bad = nonFinite(out.logits, 'logits', fedThisTask() + 1);
      if (bad) {
        end = { kind: 'fault', error: bad };
        break;
      }
      state = out.state;
      tokensSeen++;
      const next = turn.accept(out.logits);
      this.metrics?.tokensGenerated.inc();
      generated++;
      sink.push(next.token, next.text);
      if (next.finish) {
        end = { kind: 'finish', reason: next.finish };
        break;
      }
      if (++sinceCheckpoint >= this.settings.checkpointTokens) {
        sinceCheckpoint = 0;
        const badState = nonFinite(state, 'state', fedThisTask());
        if (badState) {
          end = { kind: 'fault', error: badState };
          break;
        }
        sink.flush(); // same connection: the tokens reach Redis before the checkpoint that covers them
        const write = this.store.commitCheckpoint(lease, {
          state: this.encodeState(state, tokensSeen),
          meta: turn.checkpoint(),
          tokensSeen,
          tokensOut: turn.tokensOut,
        });
        const noted = write.then((r) => {
          if (r.result !== 'ok' && commitState.signal !== 'fenced') commitState.signal = r.result;
          if (r.result !== 'ok') stop.abort(r.result);
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
    if (end.kind === 'fault') return this.fail(lease, turn.tokensIn, end.error.message, turn.tokensOut);
    // Every state committed below has been checked: a non-finite one fails the task and is never stored.
    const badState = nonFinite(state, 'state', fedThisTask());
    if (badState) return this.fail(lease, turn.tokensIn, badState.message, turn.tokensOut);
    if (end.kind === 'yield') {
      return this.yieldSegment(lease, state, tokensSeen, turn.checkpoint(), turn.tokensOut, turn.tokensIn);
    }
    // Close the turn now (a finish's last delta came with its token; a cancel releases text held back for a
    // possible stop), so the agent's context between tasks is fully consumed and its token count adds up.
    const { flushText, closing } = turn.close(end.reason);
    if (closing.length > 4) {
      state = (await this.decoder.prefill(state, closing)).state;
    } else {
      for (const token of closing) state = (await this.decoder.step(state, token)).state;
    }
    tokensSeen += closing.length;
    const badClosing = nonFinite(state, 'state', fedThisTask());
    if (badClosing) return this.fail(lease, turn.tokensIn, badClosing.message, turn.tokensOut);
    const final = turn.finish(tokensSeen);
    const finished = await this.store.finishTask(lease, {
      status: end.reason === 'cancelled' ? 'cancelled' : 'succeeded',
      finishReason: end.reason,
      checkpoint: {
        state: this.encodeState(state, tokensSeen),
        meta: final.checkpoint,
        tokensSeen,
        tokensOut: turn.tokensOut,
      },
      tokensIn: final.tokensIn,
      tokensOut: turn.tokensOut,
      flushText,
    });
    if (finished.next) await this.producer.enqueue(finished.next);
  }

  private async yieldSegment(
    lease: Lease,
    state: Float32Array,
    tokensSeen: number,
    meta: AgentCheckpoint,
    tokensOut: number,
    tokensIn: number,
  ): Promise<void> {
    const r = await this.store.commitCheckpoint(
      lease,
      { state: this.encodeState(state, tokensSeen), meta, tokensSeen, tokensOut, tokensIn },
      true,
    );
    if (r.next) await this.producer.enqueue(r.next);
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

  /** The state blob of a checkpoint (counted in the checkpoint metrics). */
  private encodeState(state: Float32Array, tokensSeen: number): Uint8Array {
    const blob = encodeAgentState(this.model, state, tokensSeen);
    this.metrics?.checkpointWritten(blob.byteLength);
    return blob;
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
