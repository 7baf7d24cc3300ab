import type { Rwkv7Config } from '../model/rwkv7-config.js';

/**
 * The official BlinkDL x070 tensor list, in the order `rwkv_v7_numpy.py` expects. The single source of
 * truth for validation (derive-config), generation (random-checkpoint) and ordering (HF mapping).
 */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
}

/** Parameters whose official shape is [1,1,C] (files may store them as [C]). */
export const VECTOR_PARAMS = /^blocks\.\d+\.(att\.(x_[rwkvag]|w0|a0|v0|k_k|k_a)|ffn\.x_k)$/;

export function blockSpecs(cfg: Rwkv7Config, i: number, withValueResidual: boolean): TensorSpec[] {
  const C = cfg.nEmbd;
  const p = `blocks.${i}.`;
  const vec = [1, 1, C];
  const specs: TensorSpec[] = [];
  const add = (name: string, shape: readonly number[]) => specs.push({ name: p + name, shape });
  if (i === 0) {
    add('ln0.weight', [C]);
    add('ln0.bias', [C]);
  }
  for (const n of ['ln1.weight', 'ln1.bias', 'ln2.weight', 'ln2.bias']) add(n, [C]);
  for (const x of 'rwkvag') add(`att.x_${x}`, vec);
  add('att.w0', vec);
  add('att.r_k', [cfg.nHead, cfg.headSize]);
  add('att.w1', [C, cfg.dimDecayLora]);
  add('att.w2', [cfg.dimDecayLora, C]);
  add('att.a1', [C, cfg.dimALora]);
  add('att.a2', [cfg.dimALora, C]);
  add('att.a0', vec);
  add('att.g1', [C, cfg.dimGateLora]);
  add('att.g2', [cfg.dimGateLora, C]);
  if (withValueResidual) {
    add('att.v2', [cfg.dimVLora, C]);
    add('att.v1', [C, cfg.dimVLora]);
    add('att.v0', vec);
  }
  add('att.k_k', vec);
  add('att.k_a', vec);
  for (const n of ['receptance', 'key', 'value', 'output']) add(`att.${n}.weight`, [C, C]);
  add('att.ln_x.weight', [C]);
  add('att.ln_x.bias', [C]);
  add('ffn.x_k', vec);
  add('ffn.key.weight', [cfg.dimFfn, C]);
  add('ffn.value.weight', [C, cfg.dimFfn]);
  return specs;
}

/** All tensors of a model; `layer0ValueResidual` says whether blocks.0.att.v0/v1/v2 are present. */
export function officialTensorSpecs(cfg: Rwkv7Config, layer0ValueResidual: boolean): TensorSpec[] {
  const specs: TensorSpec[] = [{ name: 'emb.weight', shape: [cfg.vocabSize, cfg.nEmbd] }];
  for (let i = 0; i < cfg.nLayer; i++) specs.push(...blockSpecs(cfg, i, i > 0 || layer0ValueResidual));
  specs.push({ name: 'ln_out.weight', shape: [cfg.nEmbd] }, { name: 'ln_out.bias', shape: [cfg.nEmbd] });
  specs.push({ name: 'head.weight', shape: [cfg.vocabSize, cfg.nEmbd] });
  return specs;
}

/** Total number of parameters of a model with this config. */
export function parameterCount(cfg: Rwkv7Config, layer0ValueResidual = true): number {
  return officialTensorSpecs(cfg, layer0ValueResidual).reduce(
    (n, s) => n + s.shape.reduce((a, b) => a * b, 1),
    0,
  );
}
