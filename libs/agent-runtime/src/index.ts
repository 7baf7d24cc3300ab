/** @gooseherd/agent-runtime: runs agents on the engine. See README.md. */
export * from './chat-format.js';
export * from './text-tokenizer.js';
export * from './model-loader.js';
export * from './batched-decoder.js';
export * from './task-generation.js';
export * from './numeric-health.js';
export * from './agent-turn.js';
export * from './tool-dialect.js';
export * from './weights/index.js';
