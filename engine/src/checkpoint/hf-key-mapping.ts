import type { StoredTensor } from '../model/tensor.js';
import { CheckpointError } from './checkpoint-error.js';
import { row, transpose2d } from './tensor-ops.js';

/**
 * Maps Hugging Face / flash-linear-attention (fla) RWKV-7 state dicts (`fla/models/rwkv7`, the
 * `RWKV/*-HF` repos) to official BlinkDL names and shapes. The correspondence is the inverse of fla's
 * `utils/convert_from_rwkv7.py`:
 *
 * | fla / HF (optional `model.` prefix)            | official                        |
 * | ---------------------------------------------- | ------------------------------- |
 * | `embeddings.weight`                            | `emb.weight`                    |
 * | `layers.N.pre_norm.{weight,bias}`              | `blocks.N.ln0.*`                |
 * | `layers.N.attn_norm.*` / `layers.N.ffn_norm.*` | `blocks.N.ln1.*` / `ln2.*`      |
 * | `layers.N.attn.x_{r,w,k,v,a,g}`                | `blocks.N.att.x_*`              |
 * | `layers.N.attn.x_x` [6,C] (fla "version 1")    | rows → `att.x_r…x_g`            |
 * | `layers.N.attn.{k_k,k_a,r_k}`                  | `att.{k_k,k_a,r_k}`             |
 * | `layers.N.attn.{r,k,v,o}_proj.weight`          | `att.{receptance,key,value,output}.weight` |
 * | `layers.N.attn.{w,a,v,g}_lora.lora.0.weight`   | `att.{w,a,v,g}1`, transposed    |
 * | `layers.N.attn.{w,a,v,g}_lora.lora.2.weight`   | `att.{w,a,v,g}2`, transposed    |
 * | `layers.N.attn.{w,a,v}_lora.lora.2.bias`       | `att.{w,a,v}0`                  |
 * | `layers.N.attn.g_norm.{weight,bias}`           | `att.ln_x.*`                    |
 * | `layers.N.ffn.{x_k,key.weight,value.weight}`   | `ffn.*` (same)                  |
 * | `norm.*` / `lm_head.weight`                    | `ln_out.*` / `head.weight`      |
 *
 * fla's LoRA is `nn.Sequential(Linear(C,D), act, Linear(D,C))`, whose weights are nn.Linear `[out,in]`;
 * the official w1/w2 are `[in,out]` (used as `x @ w1 @ w2`), hence the transposes. The second Linear's
 * bias is the official w0/a0/v0 (fla's decay `-e^-0.5·sigmoid(z)` equals the official
 * `-softplus(-z)-0.5` form, so the bias is the same z). fla stores k_k, k_a, ffn.x_k and the biases as
 * [C]; load-checkpoint's shape normalisation turns them into the official [1,1,C]. fla layer 0 has no
 * v_lora at all, which the official layout allows.
 */

const HF_HINT = /^(model\.)?(embeddings\.weight|layers\.\d+\.|norm\.)|^lm_head\.weight$/;

/** True when the names are in the fla / HF layout rather than the official one. */
export function looksLikeHf(names: Iterable<string>): boolean {
  for (const n of names) if (HF_HINT.test(n)) return true;
  return false;
}

const TOP: Record<string, string> = {
  'embeddings.weight': 'emb.weight',
  'norm.weight': 'ln_out.weight',
  'norm.bias': 'ln_out.bias',
  'lm_head.weight': 'head.weight',
};
const NORMS: Record<string, string> = { pre_norm: 'ln0', attn_norm: 'ln1', ffn_norm: 'ln2' };
const PROJ: Record<string, string> = {
  r_proj: 'receptance',
  k_proj: 'key',
  v_proj: 'value',
  o_proj: 'output',
};
const X_X_ORDER = ['r', 'w', 'k', 'v', 'a', 'g'];

export function mapHfToOfficial(
  tensors: ReadonlyMap<string, StoredTensor>,
  sourcePath: string,
): Map<string, StoredTensor> {
  const out = new Map<string, StoredTensor>();
  const put = (hfName: string, name: string, t: StoredTensor) => {
    if (out.has(name))
      throw new CheckpointError(sourcePath, `HF tensors map twice onto ${name} (second: ${hfName})`);
    out.set(name, t);
  };
  for (const [hfName, t] of tensors) {
    const name = hfName.startsWith('model.') ? hfName.slice('model.'.length) : hfName;
    if (name in TOP) {
      put(hfName, TOP[name], t);
      continue;
    }
    const m = /^layers\.(\d+)\.(.+)$/.exec(name);
    if (!m)
      throw new CheckpointError(sourcePath, `cannot map HF tensor ${hfName} to an official RWKV-7 name`);
    const b = `blocks.${m[1]}.`;
    const rest = m[2];
    let r: RegExpExecArray | null;
    if ((r = /^(pre_norm|attn_norm|ffn_norm)\.(weight|bias)$/.exec(rest)))
      put(hfName, `${b}${NORMS[r[1]]}.${r[2]}`, t);
    else if ((r = /^attn\.(x_[rwkvag]|k_k|k_a|r_k)$/.exec(rest))) put(hfName, `${b}att.${r[1]}`, t);
    else if (rest === 'attn.x_x') {
      if (t.shape.length !== 2 || t.shape[0] !== 6) {
        throw new CheckpointError(sourcePath, `HF tensor ${hfName} has shape [${t.shape}], expected [6, C]`);
      }
      X_X_ORDER.forEach((x, i) => put(hfName, `${b}att.x_${x}`, row(t, i)));
    } else if ((r = /^attn\.([rkvo]_proj)\.weight$/.exec(rest)))
      put(hfName, `${b}att.${PROJ[r[1]]}.weight`, t);
    else if ((r = /^attn\.([wavg])_lora\.lora\.([02])\.weight$/.exec(rest))) {
      if (t.shape.length !== 2)
        throw new CheckpointError(
          sourcePath,
          `HF LoRA weight ${hfName} has shape [${t.shape}], expected 2-D`,
        );
      put(hfName, `${b}att.${r[1]}${r[2] === '0' ? 1 : 2}`, transpose2d(t));
    } else if ((r = /^attn\.([wav])_lora\.lora\.2\.bias$/.exec(rest))) put(hfName, `${b}att.${r[1]}0`, t);
    else if ((r = /^attn\.g_norm\.(weight|bias)$/.exec(rest))) put(hfName, `${b}att.ln_x.${r[1]}`, t);
    else if ((r = /^ffn\.(x_k|key\.weight|value\.weight)$/.exec(rest))) put(hfName, `${b}ffn.${r[1]}`, t);
    else throw new CheckpointError(sourcePath, `cannot map HF tensor ${hfName} to an official RWKV-7 name`);
  }
  return out;
}
