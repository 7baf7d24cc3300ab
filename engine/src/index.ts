/** @gooseherd/engine: RWKV-7 inference on onnxruntime-node. See README.md. */
export * from './model/rwkv7-config.js';
export * from './model/tensor.js';
export * from './checkpoint/index.js';
export { buildRwkv7Graph, GraphIO, type Rwkv7GraphSpec } from './graph/rwkv7-graph.js';
export { WEIGHT_DTYPES, QUANT_BLOCK_SIZE, type WeightDType } from './graph/linear-weights.js';
export { Rwkv7Engine, type EngineOptions, type StepResult, type GraphKind } from './runtime/rwkv7-engine.js';
export { cachedGraph, defaultCacheDir, GRAPH_BUILDER_VERSION } from './runtime/graph-cache.js';
export * from './tokenizer/index.js';
export * from './sampling/index.js';
export * from './state/index.js';
export * from './bench/index.js';
