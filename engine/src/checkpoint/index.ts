/** Checkpoint loading (.pth / .safetensors, official or HF names) and generation. See README.md. */
export { CheckpointError } from './checkpoint-error.js';
export {
  loadCheckpoint,
  checkpointFingerprint,
  checkpointFromTensors,
  readCheckpointTensors,
} from './load-checkpoint.js';
export type { CheckpointFormat } from './load-checkpoint.js';
export { deriveConfig } from './derive-config.js';
export { looksLikeHf, mapHfToOfficial } from './hf-key-mapping.js';
export { officialTensorSpecs, parameterCount } from './official-layout.js';
export type { TensorSpec } from './official-layout.js';
export { randomCheckpoint, resolveShape, MODEL_SHAPES } from './random-checkpoint.js';
export type { RandomModelShape } from './random-checkpoint.js';
export { writeSafetensors } from './safetensors-writer.js';
export { writePth } from './pth-writer.js';
export type { WritePthOptions } from './pth-writer.js';
export { bufferSource, openFileSource } from './byte-source.js';
export type { ByteSource, FileSource } from './byte-source.js';
