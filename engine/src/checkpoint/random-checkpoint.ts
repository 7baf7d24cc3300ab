import type { Rwkv7Checkpoint, Rwkv7Config } from '../model/rwkv7-config.js';
import type { StoredDType, StoredTensor } from '../model/tensor.js';
import { encodeGenerated } from './float-encode.js';
import { officialTensorSpecs, type TensorSpec } from './official-layout.js';
import { Xoshiro128 } from './prng.js';

/**
 * Deterministic random RWKV-7 checkpoints in the official layout, for tests and benchmarks at real
 * model sizes without downloading weights. Values are scaled like a trained model so a forward pass
 * stays numerically sane at any size: unit-variance activations through every Linear, decays spanning
 * ~0.55..0.9999, in-context rates ~0.1..0.9.
 */
export interface RandomModelShape {
  readonly nLayer: number;
  readonly nEmbd: number;
  /** Default 64. */
  readonly headSize?: number;
  /** Default 65536 (World vocabulary). */
  readonly vocabSize?: number;
  /** Default 4·C. */
  readonly dimFfn?: number;
  /** LoRA ranks; defaults follow BlinkDL's train_temp formulas (2.5√C, 2.5√C, 1.7√C, 5√C, rounded to 32). */
  readonly dimDecayLora?: number;
  readonly dimALora?: number;
  readonly dimVLora?: number;
  readonly dimGateLora?: number;
  /** Whether blocks.0.att.v0/v1/v2 exist (current BlinkDL training creates them). Default true. */
  readonly layer0ValueResidual?: boolean;
}

/** Shapes of the released RWKV-7 World/G1 models. */
export const MODEL_SHAPES = {
  '0.1b': {
    nLayer: 12,
    nEmbd: 768,
    headSize: 64,
    vocabSize: 65536,
    dimFfn: 3072,
    dimDecayLora: 64,
    dimALora: 64,
    dimVLora: 32,
    dimGateLora: 128,
  },
  '0.4b': {
    nLayer: 24,
    nEmbd: 1024,
    headSize: 64,
    vocabSize: 65536,
    dimFfn: 4096,
    dimDecayLora: 64,
    dimALora: 64,
    dimVLora: 64,
    dimGateLora: 128,
  },
} as const satisfies Record<string, RandomModelShape>;

/** Python's round() (half to even), which BlinkDL's LoRA-rank formulas rely on (e.g. 2.5 → 2). */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}

const loraDim = (x: number) => Math.max(32, roundHalfEven(x / 32) * 32);

/** Fills in defaults and checks the shape is buildable. */
export function resolveShape(shape: RandomModelShape): Rwkv7Config {
  const C = shape.nEmbd;
  const headSize = shape.headSize ?? 64;
  if (!Number.isSafeInteger(C) || C <= 0 || C % headSize !== 0) {
    throw new RangeError(`nEmbd ${C} must be a positive multiple of headSize ${headSize}`);
  }
  if (!Number.isSafeInteger(shape.nLayer) || shape.nLayer < 1)
    throw new RangeError(`nLayer ${shape.nLayer} must be >= 1`);
  return {
    nLayer: shape.nLayer,
    nEmbd: C,
    nHead: C / headSize,
    headSize,
    vocabSize: shape.vocabSize ?? 65536,
    dimFfn: shape.dimFfn ?? 4 * C,
    dimDecayLora: shape.dimDecayLora ?? loraDim(2.5 * Math.sqrt(C)),
    dimALora: shape.dimALora ?? loraDim(2.5 * Math.sqrt(C)),
    dimVLora: shape.dimVLora ?? loraDim(1.7 * Math.sqrt(C)),
    dimGateLora: shape.dimGateLora ?? loraDim(5 * Math.sqrt(C)),
  };
}

/** How values are drawn: affine maps of a standard normal / uniform(0,1), or a map of a uniform. */
type Sampler =
  | { readonly kind: 'normal'; readonly mean: number; readonly std: number }
  | { readonly kind: 'uniform'; readonly lo: number; readonly hi: number }
  | { readonly kind: 'map'; readonly f: (u: number) => number };
const normal = (mean: number, std: number): Sampler => ({ kind: 'normal', mean, std });
const uniform = (lo: number, hi: number): Sampler => ({ kind: 'uniform', lo, hi });

/** Decay bias w0: pick the per-channel decay exp(-exp(w)) with w ∈ [-9, -0.6] (decay ~0.58..0.9999),
 * then invert the official w = -softplus(-w0) - 0.5. */
const decayBias: Sampler = {
  kind: 'map',
  f: (u) => {
    const w = -9 + 8.4 * u;
    return -Math.log(Math.exp(-0.5 - w) - 1);
  },
};

/** How each official tensor is initialised, by name suffix. */
function samplerFor(name: string, shape: readonly number[], cfg: Rwkv7Config): Sampler {
  const suffix = name.replace(/^blocks\.\d+\./, '');
  const C = cfg.nEmbd;
  // LoRA second matrices add a ~±0.3 perturbation around the bias.
  const lora2 = (d: number) => normal(0, 0.3 / Math.sqrt(d));
  switch (suffix) {
    case 'emb.weight':
      return normal(0, 1);
    case 'head.weight':
      return normal(0, 2 / Math.sqrt(C)); // logits with std ~2, like a trained head
    case 'att.w0':
      return decayBias;
    case 'att.a0':
      return uniform(-2.2, 2.2); // sigmoid → in-context rate ~0.1..0.9
    case 'att.v0':
      return uniform(-1, 1.5);
    case 'att.k_k':
    case 'att.k_a':
      return uniform(0.5, 1.5);
    case 'att.r_k':
      return normal(0, 0.1);
    case 'att.w1':
    case 'att.a1':
    case 'att.v1':
    case 'att.g1':
      return normal(0, 1 / Math.sqrt(C));
    case 'att.w2':
      return lora2(cfg.dimDecayLora);
    case 'att.a2':
      return lora2(cfg.dimALora);
    case 'att.v2':
      return lora2(cfg.dimVLora);
    case 'att.g2':
      return normal(0, 1.5 / Math.sqrt(cfg.dimGateLora));
    case 'att.ln_x.weight':
      return uniform(0.5, 1.5);
    case 'ffn.value.weight':
      return normal(0, 1 / Math.sqrt(1.5 * cfg.dimFfn)); // relu² has second moment 1.5
  }
  if (/^(ln\d|ln_out)\.weight$/.test(suffix)) return normal(1, 0.1);
  if (/\.bias$/.test(suffix)) return normal(0, 0.05);
  if (/^(att\.x_[rwkvag]|ffn\.x_k)$/.test(suffix)) return uniform(0, 1);
  if (/\.weight$/.test(suffix) && shape.length === 2) return normal(0, 1 / Math.sqrt(shape[1])); // [out,in]
  throw new Error(`no initialiser for ${name}`);
}

function generate(spec: TensorSpec, cfg: Rwkv7Config, seed: number, dtype: StoredDType): StoredTensor {
  const rng = new Xoshiro128(seed, spec.name);
  const s = samplerFor(spec.name, spec.shape, cfg);
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const bytes = encodeGenerated(dtype, count, (x, _start, n) => {
    if (s.kind === 'normal') {
      rng.fillNormal(x, n);
      for (let i = 0; i < n; i++) x[i] = s.mean + s.std * x[i];
    } else {
      rng.fillUniform(x, n);
      if (s.kind === 'uniform') for (let i = 0; i < n; i++) x[i] = s.lo + (s.hi - s.lo) * x[i];
      else for (let i = 0; i < n; i++) x[i] = s.f(x[i]);
    }
  });
  return { dtype, shape: spec.shape, bytes };
}

/**
 * A random checkpoint with official names, shapes and order. Same (shape, seed, dtype) → same bytes.
 * Memory: the stored bytes plus one 256 KB scratch buffer.
 */
export function randomCheckpoint(
  shape: RandomModelShape,
  seed: number,
  dtype: StoredDType = 'bf16',
): Rwkv7Checkpoint {
  const config = resolveShape(shape);
  const tensors = new Map<string, StoredTensor>();
  for (const spec of officialTensorSpecs(config, shape.layer0ValueResidual ?? true)) {
    tensors.set(spec.name, generate(spec, config, seed, dtype));
  }
  const dims = `${config.nLayer}x${config.nEmbd}`;
  return { config, tensors, sourcePath: `random-checkpoint(${dims}, seed=${seed}, ${dtype})` };
}
