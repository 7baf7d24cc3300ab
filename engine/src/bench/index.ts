export { measureReadBandwidth, type BandwidthReading } from './memory-bandwidth.js';
export { weightBytesPerToken, bytesPerWeight } from './weight-traffic.js';
export {
  benchmarkEngine,
  benchmarkContextSweep,
  median,
  type BenchShape,
  type EngineBenchOptions,
  type EngineBenchResult,
  type ContextPoint,
} from './engine-bench.js';
export { measureQuantAccuracy, type QuantAccuracy } from './quant-accuracy.js';
export * from './transformer/index.js';
export { measureSgemmRate, prefillFlopsPerToken } from './sgemm-rate.js';
