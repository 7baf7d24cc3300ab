/** Transformer (KV-cache) decode baseline for the side-by-side benchmark against RWKV-7. See README.md. */
export {
  buildTransformerDecodeGraph,
  buildTransformerDecodeGraphFromWeights,
  checkTransformerShape,
  CONTEXT_DIM,
  generateTransformerWeights,
  headCount,
  TRANSFORMER_SHAPES,
  TransformerIO,
  type TransformerLayerWeights,
  type TransformerShape,
  type TransformerWeights,
} from './transformer-graph.js';
export {
  benchmarkTransformerDecode,
  cachedTransformerGraph,
  kvCacheBytes,
  TRANSFORMER_GRAPH_VERSION,
  type TransformerBenchOptions,
  type TransformerBenchRow,
} from './transformer-bench.js';
