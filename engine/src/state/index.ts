export {
  encodeState,
  decodeState,
  readStateHeader,
  stateSizeBytes,
  stateFloatCount,
  type StateDims,
  type EncodeStateInput,
  type StateHeader,
  type DecodedState,
  type DecodeStateOptions,
} from './state-codec.js';
export { StateCodecError, type StateCodecErrorCode } from './state-codec-error.js';
export {
  STATE_MAGIC,
  STATE_FORMAT_VERSION,
  STATE_HEADER_BYTES,
  STATE_TRAILER_BYTES,
  STATE_OVERHEAD_BYTES,
} from './state-format.js';
