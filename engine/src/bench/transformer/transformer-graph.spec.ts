import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { benchmarkTransformerDecode, kvCacheBytes } from './transformer-bench.js';
import {
  buildTransformerDecodeGraphFromWeights,
  generateTransformerWeights,
  headCount,
  LAYER_NORM_EPS,
  TransformerIO,
  TransformerShape,
  TransformerWeights,
} from './transformer-graph.js';

const TINY: TransformerShape = { nLayer: 2, nEmbd: 64, headSize: 16, vocabSize: 256, dimFfn: 256 };
const SEED = 7;
const TOL = 1e-4;

/** Deterministic values in [-1, 1) for the test's KV caches. */
function randomArray(size: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 2147483648 - 1;
  }
  return out;
}

interface Caches {
  readonly k: Float32Array[]; // [H, N, ctx] per layer
  readonly v: Float32Array[]; // [H, ctx, N] per layer
}

function randomCaches(shape: TransformerShape, ctx: number, seed: number): Caches {
  const size = shape.nEmbd * ctx;
  const k: Float32Array[] = [];
  const v: Float32Array[] = [];
  for (let l = 0; l < shape.nLayer; l++) {
    k.push(randomArray(size, seed * 1000 + 2 * l + 1));
    v.push(randomArray(size, seed * 1000 + 2 * l + 2));
  }
  return { k, v };
}

// ---- plain JS reference (float64 accumulation) of the same math ----

function layerNorm(x: Float64Array, w: Float32Array, b: Float32Array): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= n;
  const inv = 1 / Math.sqrt(variance + LAYER_NORM_EPS);
  return Float64Array.from(x, (v, i) => (v - mean) * inv * w[i] + b[i]);
}

/** x [in] · W [in, out]. */
function matVec(x: Float64Array, w: Float32Array, outDim: number): Float64Array {
  const out = new Float64Array(outDim);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    const row = i * outDim;
    for (let j = 0; j < outDim; j++) out[j] += xi * w[row + j];
  }
  return out;
}

function referenceStep(
  shape: TransformerShape,
  w: TransformerWeights,
  token: number,
  ctx: number,
  caches: Caches,
): { logits: Float64Array; k: Float64Array[]; v: Float64Array[] } {
  const { nEmbd: C, headSize: N, vocabSize: V, dimFfn: F } = shape;
  const H = headCount(shape);
  let x = Float64Array.from(w.embedding.subarray(token * C, (token + 1) * C));
  const newK: Float64Array[] = [];
  const newV: Float64Array[] = [];
  for (let l = 0; l < shape.nLayer; l++) {
    const lw = w.layers[l];
    const qkv = matVec(layerNorm(x, lw.ln1Weight, lw.ln1Bias), lw.qkv, 3 * C);
    const q = qkv.subarray(0, C);
    const k = qkv.slice(C, 2 * C);
    const v = qkv.slice(2 * C, 3 * C);
    newK.push(k);
    newV.push(v);
    const attn = new Float64Array(C);
    for (let h = 0; h < H; h++) {
      const scores = new Float64Array(ctx + 1);
      for (let j = 0; j <= ctx; j++) {
        let s = 0;
        for (let n = 0; n < N; n++) {
          const key = j < ctx ? caches.k[l][h * N * ctx + n * ctx + j] : k[h * N + n];
          s += q[h * N + n] * key;
        }
        scores[j] = s / Math.sqrt(N);
      }
      const max = Math.max(...scores);
      let sum = 0;
      for (let j = 0; j <= ctx; j++) sum += scores[j] = Math.exp(scores[j] - max);
      for (let j = 0; j <= ctx; j++) {
        const p = scores[j] / sum;
        for (let n = 0; n < N; n++) {
          const value = j < ctx ? caches.v[l][h * ctx * N + j * N + n] : v[h * N + n];
          attn[h * N + n] += p * value;
        }
      }
    }
    const o = matVec(attn, lw.out, C);
    x = x.map((xi, i) => xi + o[i]);
    const up = matVec(layerNorm(x, lw.ln2Weight, lw.ln2Bias), lw.ffnUp, F).map((u) => Math.max(u, 0) ** 2);
    const down = matVec(up, lw.ffnDown, C);
    x = x.map((xi, i) => xi + down[i]);
  }
  const logits = matVec(layerNorm(x, w.lnOutWeight, w.lnOutBias), w.head, V);
  return { logits, k: newK, v: newV };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('transformer decode graph', () => {
  const weights = generateTransformerWeights(TINY, SEED);
  const H = headCount(TINY);
  const N = TINY.headSize;
  let dir: string;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-transformer-spec-'));
    const modelPath = path.join(dir, 'model.onnx');
    buildTransformerDecodeGraphFromWeights(TINY, weights).save(modelPath);
    session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  });

  afterAll(async () => {
    await session?.release();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates the same weights from the same seed', () => {
    const again = generateTransformerWeights(TINY, SEED);
    expect(maxAbsDiff(again.layers[1].qkv, weights.layers[1].qkv)).toBe(0);
    expect(maxAbsDiff(generateTransformerWeights(TINY, SEED + 1).head, weights.head)).toBeGreaterThan(0);
  });

  it.each([
    [5, 3],
    [5, 200],
    [1, 17],
    [0, 9], // the first token: an empty cache
  ])('matches the JS reference at ctx %i, token %i', async (ctx, token) => {
    const caches = randomCaches(TINY, ctx, ctx + token);
    const feeds: Record<string, ort.Tensor> = {
      [TransformerIO.token]: new ort.Tensor('int64', BigInt64Array.from([BigInt(token)]), [1]),
    };
    for (let l = 0; l < TINY.nLayer; l++) {
      feeds[TransformerIO.pastKey(l)] = new ort.Tensor('float32', caches.k[l], [H, N, ctx]);
      feeds[TransformerIO.pastValue(l)] = new ort.Tensor('float32', caches.v[l], [H, ctx, N]);
    }
    const out = await session.run(feeds);
    const ref = referenceStep(TINY, weights, token, ctx, caches);

    const logits = out[TransformerIO.logits];
    expect(logits.dims).toEqual([1, TINY.vocabSize]);
    expect(maxAbsDiff(logits.data as Float32Array, ref.logits)).toBeLessThan(TOL);
    for (let l = 0; l < TINY.nLayer; l++) {
      const k = out[TransformerIO.newKey(l)];
      const v = out[TransformerIO.newValue(l)];
      expect(k.dims).toEqual([H, N, 1]);
      expect(v.dims).toEqual([H, 1, N]);
      expect(maxAbsDiff(k.data as Float32Array, ref.k[l])).toBeLessThan(TOL);
      expect(maxAbsDiff(v.data as Float32Array, ref.v[l])).toBeLessThan(TOL);
    }
  });

  it('benchmarks a tiny shape with sane numbers', async () => {
    const cacheDir = path.join(dir, 'bench-cache');
    const rows = await benchmarkTransformerDecode({
      shape: TINY,
      contexts: [16, 64],
      threads: 1,
      repeats: 3,
      spinning: false,
      cacheDir,
    });
    expect(rows.map((r) => r.context)).toEqual([16, 64]);
    for (const r of rows) {
      expect(r.msPerToken).toBeGreaterThan(0);
      expect(Number.isFinite(r.msPerToken)).toBe(true);
      expect(r.kvCacheBytes).toBe(TINY.nLayer * 2 * r.context * TINY.nEmbd * 4);
      expect(r.kvCacheBytes).toBe(kvCacheBytes(TINY, r.context));
      expect(r.peakRssBytes).toBeGreaterThan(0);
    }
    expect(rows[1].peakRssBytes).toBeGreaterThanOrEqual(rows[0].peakRssBytes);
  });
});
