import { decodeState, encodeState, StateCodecError } from '@gooseherd/engine';
import type { GeneratorSnapshot, LoadedModel } from '@gooseherd/agent-runtime';

/**
 * What the worker stores beside an agent's state blob. The state has consumed every token of the agent's
 * context except `pending`, which the next engine call feeds first: during generation that is the last
 * sampled token; a finished task feeds its turn's closing tokens (stop string remainder and the blank line)
 * before its final checkpoint, so between tasks it is empty (or holds tokens of an older format).
 */
export interface AgentCheckpointMeta {
  v: 1;
  pending: number[];
  /** The system prompt is part of the state already. */
  systemFed: boolean;
  /** Present while a task is mid-way: enough to resume it exactly. */
  task?: {
    id: string;
    /** Output tokens the state accounts for (the last of them is `pending`). */
    outputTokens: number;
    tokensIn: number;
    /** Tokens the state had consumed when the task started (its accounting base). */
    seenBefore: number;
    generator: GeneratorSnapshot;
  };
}

export const EMPTY_CHECKPOINT: AgentCheckpointMeta = { v: 1, pending: [], systemFed: false };

export interface RestoredState {
  state: Float32Array;
  tokensSeen: number;
}

/** Decodes a stored blob for this worker's model; a blob of another model or a damaged one is refused. */
export function restoreState(model: LoadedModel, blob: Buffer | undefined): RestoredState {
  const { engine } = model;
  if (!blob) return { state: engine.zeroState(1), tokensSeen: 0 };
  const decoded = decodeState(blob, { config: engine.config, fingerprint: model.fingerprint });
  // Copy: the blob is a Buffer from ioredis's pool, and the engine keeps references to its inputs.
  return { state: new Float32Array(decoded.data), tokensSeen: decoded.tokensConsumed };
}

export function encodeAgentState(model: LoadedModel, state: Float32Array, tokensSeen: number): Uint8Array {
  return encodeState({
    config: model.engine.config,
    fingerprint: model.fingerprint,
    tokensConsumed: tokensSeen,
    data: state,
  });
}

export function isStateError(err: unknown): err is StateCodecError {
  return err instanceof StateCodecError;
}
