import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import * as ort from 'onnxruntime-node';
import { defaultCacheDir } from '../../runtime/graph-cache.js';
import { median } from '../engine-bench.js';
import {
  buildTransformerDecodeGraph,
  checkTransformerShape,
  headCount,
  TransformerIO,
  TransformerShape,
} from './transformer-graph.js';

/** Bump when the emitted transformer graph changes, so stale cached graphs are never loaded. */
export const TRANSFORMER_GRAPH_VERSION = 2;

export interface TransformerBenchOptions {
  readonly shape: TransformerShape;
  /** Context lengths (tokens already in the KV cache) to measure, in the order given. */
  readonly contexts: readonly number[];
  /** onnxruntime intra-op threads. */
  readonly threads: number;
  /** Timed decode steps per context; the median is reported. */
  readonly repeats: number;
  /** Untimed decode steps per context before timing. Default 2. */
  readonly warmup?: number;
  /** Weight seed. Default 1. */
  readonly seed?: number;
  /** Let onnxruntime's threads spin between runs, as Rwkv7Engine does by default. Default true. */
  readonly spinning?: boolean;
  /** Where the built graph is cached. Default `<defaultCacheDir()>/transformer-graphs`. */
  readonly cacheDir?: string;
}

export interface TransformerBenchRow {
  readonly context: number;
  /** Median wall time of one decode step (session.run) over `repeats` runs. */
  readonly msPerToken: number;
  /** L · 2 · ctx · C · 4: the fp32 KV cache held for this context. */
  readonly kvCacheBytes: number;
  /** Process peak RSS so far (maxRSS; monotonic over the process lifetime), after this context's runs. */
  readonly peakRssBytes: number;
  /** Process RSS right after this context's runs. */
  readonly rssBytes: number;
}

/** fp32 bytes of a batch-1 KV cache of `context` tokens: L · 2 · ctx · C · 4. */
export function kvCacheBytes(shape: TransformerShape, context: number): number {
  return shape.nLayer * 2 * context * shape.nEmbd * 4;
}

/**
 * Returns the path of the decode graph for (shape, seed), building and saving it on a miss. Built in a
 * temporary folder and renamed into place, so a crash or a concurrent builder never leaves a partial graph.
 */
export function cachedTransformerGraph(
  shape: TransformerShape,
  seed: number,
  cacheDir = path.join(defaultCacheDir(), 'transformer-graphs'),
): { modelPath: string; built: boolean } {
  checkTransformerShape(shape);
  const canonical = {
    nLayer: shape.nLayer,
    nEmbd: shape.nEmbd,
    headSize: shape.headSize,
    vocabSize: shape.vocabSize,
    dimFfn: shape.dimFfn,
  };
  const key = createHash('sha256')
    .update(JSON.stringify({ v: TRANSFORMER_GRAPH_VERSION, shape: canonical, seed }))
    .digest('hex')
    .slice(0, 32);
  const dir = path.join(cacheDir, key);
  const modelPath = path.join(dir, 'model.onnx');
  if (fs.existsSync(modelPath)) return { modelPath, built: false };

  fs.mkdirSync(cacheDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, `.${key}-`));
  try {
    buildTransformerDecodeGraph(shape, seed).save(path.join(tmp, 'model.onnx'));
    fs.writeFileSync(path.join(tmp, 'spec.json'), JSON.stringify({ shape: canonical, seed }, null, 2));
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      if (!fs.existsSync(modelPath)) throw err;
      fs.rmSync(tmp, { recursive: true, force: true }); // another process built the same graph
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { modelPath, built: true };
}

/**
 * Times one decode step of the transformer baseline at each context length: builds (or finds) the graph, opens
 * one session, and per context allocates the per-layer KV cache arrays exactly sized, fills them with random
 * values, wraps them in ort.Tensors without copying, warms up, and takes the median of `repeats` timed runs.
 * The previous context's arrays are released (and garbage-collected) before the next context is allocated.
 */
export async function benchmarkTransformerDecode(
  options: TransformerBenchOptions,
): Promise<TransformerBenchRow[]> {
  const { shape, contexts, threads, repeats } = options;
  checkTransformerShape(shape);
  for (const ctx of contexts) {
    if (!Number.isInteger(ctx) || ctx < 0)
      throw new RangeError(`context must be a non-negative integer, got ${ctx}`);
  }
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer`);
  const warmup = options.warmup ?? 2;

  const { modelPath } = cachedTransformerGraph(shape, options.seed ?? 1, options.cacheDir);
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: options.spinning === false ? '0' : '1' } } },
  });

  const token = new ort.Tensor('int64', BigInt64Array.from([BigInt(Math.min(42, shape.vocabSize - 1))]), [1]);
  const rows: TransformerBenchRow[] = [];
  try {
    for (const ctx of contexts) {
      rows.push(await measureContext(session, shape, token, ctx, warmup, repeats));
      collectGarbage(); // this context's cache died with measureContext's frame: return it before the next
    }
  } finally {
    await session.release();
  }
  return rows;
}

async function measureContext(
  session: ort.InferenceSession,
  shape: TransformerShape,
  token: ort.Tensor,
  ctx: number,
  warmup: number,
  repeats: number,
): Promise<TransformerBenchRow> {
  const H = headCount(shape);
  const N = shape.headSize;
  const feeds: Record<string, ort.Tensor> = { [TransformerIO.token]: token };
  for (let l = 0; l < shape.nLayer; l++) {
    // Tensors over the arrays themselves: onnxruntime-node reads CPU input buffers in place, nothing is copied.
    feeds[TransformerIO.pastKey(l)] = new ort.Tensor('float32', randomCache(H * N * ctx, 2 * l), [H, N, ctx]);
    feeds[TransformerIO.pastValue(l)] = new ort.Tensor('float32', randomCache(H * ctx * N, 2 * l + 1), [
      H,
      ctx,
      N,
    ]);
  }
  for (let i = 0; i < warmup; i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t0);
  }
  return {
    context: ctx,
    msPerToken: median(times),
    kvCacheBytes: kvCacheBytes(shape, ctx),
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    rssBytes: process.memoryUsage.rss(),
  };
}

/** Random-pattern block tiled over the cache: the values do not affect the cost, so filling need not be slow. */
const TILE = 65537;
let tile: Float32Array | undefined;

/** An exactly sized array of values in [-1, 1), filled by tiling one random block (offset per array). */
function randomCache(size: number, salt: number): Float32Array {
  if (!tile) {
    tile = new Float32Array(TILE);
    let s = 0x9e3779b9;
    for (let i = 0; i < TILE; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      tile[i] = (s >>> 0) / 2147483648 - 1;
    }
  }
  const out = new Float32Array(size);
  const first = Math.min(size, TILE);
  const offset = (salt * 7919) % TILE;
  const head = Math.min(first, TILE - offset);
  out.set(tile.subarray(offset, offset + head), 0);
  if (first > head) out.set(tile.subarray(0, first - head), head);
  for (let filled = first; filled < size; filled *= 2)
    out.copyWithin(filled, 0, Math.min(filled, size - filled));
  return out;
}

let gcFn: (() => void) | null | undefined;

/** Runs a full GC so a released multi-GB cache is returned before the next one is allocated; best effort. */
function collectGarbage(): void {
  if (gcFn === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') {
      gcFn = exposed;
    } else {
      try {
        v8.setFlagsFromString('--expose-gc');
        gcFn = vm.runInNewContext('gc') as () => void;
      } catch {
        gcFn = null;
      }
    }
  }
  gcFn?.();
}
