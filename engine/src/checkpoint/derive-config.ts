import type { Rwkv7Config } from '../model/rwkv7-config.js';
import type { StoredTensor } from '../model/tensor.js';
import { CheckpointError } from './checkpoint-error.js';
import { officialTensorSpecs } from './official-layout.js';

/**
 * Derives the model dimensions purely from tensor shapes, as the reference code does, then checks
 * that every tensor the forward pass needs is present with exactly the shape those dimensions imply.
 * Expects official names and shapes (run the HF mapping and shape normalisation first).
 */
export function deriveConfig(tensors: ReadonlyMap<string, StoredTensor>, sourcePath: string): Rwkv7Config {
  const fail = (msg: string): never => {
    throw new CheckpointError(sourcePath, msg);
  };
  const shapeOf = (name: string, rank: number): readonly number[] => {
    const t = tensors.get(name);
    if (!t) return fail(`missing tensor ${name} (needed to derive the model dimensions)`);
    if (t.shape.length !== rank || t.shape.some((d) => d <= 0)) {
      return fail(`tensor ${name} has shape [${t.shape}], expected a rank-${rank} shape with non-zero dims`);
    }
    return t.shape;
  };

  const [vocabSize, nEmbd] = shapeOf('emb.weight', 2);
  const [nHead, headSize] = shapeOf('blocks.0.att.r_k', 2);
  if (nHead * headSize !== nEmbd) {
    fail(
      `blocks.0.att.r_k shape [${nHead}, ${headSize}] does not match n_embd ${nEmbd} (n_head * head_size must equal it)`,
    );
  }
  const blocks = new Set<number>();
  for (const name of tensors.keys()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (m) blocks.add(Number(m[1]));
  }
  const nLayer = [...blocks].reduce((a, b) => Math.max(a, b), -1) + 1;
  // Distinct indices whose max+1 equals their count are exactly 0..n-1; checked before any per-layer
  // loop, so a corrupt name like `blocks.99999999.x` cannot make validation run for ages.
  if (blocks.size !== nLayer) {
    fail(
      `block indices are not 0..${nLayer - 1} (found ${blocks.size} distinct blocks, largest index ${nLayer - 1})`,
    );
  }
  // Layer 0 may lack the value-residual LoRA; take its rank from layer 1 when there is one.
  const vLayer = nLayer > 1 ? 1 : 0;
  const hasV0 =
    tensors.has('blocks.0.att.v1') || tensors.has('blocks.0.att.v2') || tensors.has('blocks.0.att.v0');
  const config: Rwkv7Config = {
    nLayer,
    nEmbd,
    nHead,
    headSize,
    vocabSize,
    dimFfn: shapeOf('blocks.0.ffn.key.weight', 2)[0],
    dimDecayLora: shapeOf('blocks.0.att.w1', 2)[1],
    dimALora: shapeOf('blocks.0.att.a1', 2)[1],
    dimVLora: vLayer === 1 || hasV0 ? shapeOf(`blocks.${vLayer}.att.v1`, 2)[1] : 0,
    dimGateLora: shapeOf('blocks.0.att.g1', 2)[1],
  };

  const problems: string[] = [];
  const expected = officialTensorSpecs(config, hasV0);
  const expectedNames = new Set(expected.map((s) => s.name));
  for (const spec of expected) {
    const t = tensors.get(spec.name);
    if (!t) problems.push(`missing ${spec.name}`);
    else if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
      problems.push(`${spec.name} has shape [${t.shape}], expected [${spec.shape}]`);
    }
  }
  for (const name of tensors.keys()) if (!expectedNames.has(name)) problems.push(`unexpected tensor ${name}`);
  if (problems.length) {
    const shown = problems.slice(0, 12).join('; ');
    const more = problems.length > 12 ? `; and ${problems.length - 12} more` : '';
    fail(`not a valid RWKV-7 (x070) checkpoint for n_layer=${nLayer}, n_embd=${nEmbd}: ${shown}${more}`);
  }
  return config;
}
