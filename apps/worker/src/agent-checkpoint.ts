import { decodeState, encodeState, StateCodecError } from '@gooseherd/engine';
import type { LoadedModel } from '@gooseherd/agent-runtime';

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
