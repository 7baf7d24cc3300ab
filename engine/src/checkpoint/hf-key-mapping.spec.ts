import * as path from 'node:path';
import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import type { StoredTensor } from '../model/tensor.js';
import { bytesPerElement } from '../model/tensor.js';
import {
  CheckpointError,
  checkpointFingerprint,
  checkpointFromTensors,
  loadCheckpoint,
  looksLikeHf,
  randomCheckpoint,
  writePth,
  writeSafetensors,
} from './index.js';
import { fixtureDir, FIXTURE_PTH, haveCheckpointFixtures, scratchDir } from './test-fixtures.js';

/** The test's own transpose, independent of the one under test. */
function transpose(t: StoredTensor): StoredTensor {
  const [r, c] = t.shape;
  const e = bytesPerElement(t.dtype);
  const out = Buffer.alloc(t.bytes.length);
  for (let i = 0; i < r; i++)
    for (let j = 0; j < c; j++)
      out.set(t.bytes.subarray((i * c + j) * e, (i * c + j + 1) * e), (j * r + i) * e);
  return { dtype: t.dtype, shape: [c, r], bytes: out };
}

const squeeze = (t: StoredTensor): StoredTensor => ({ ...t, shape: [t.shape[t.shape.length - 1]] });

/**
 * Official → fla/HF, written from fla's RWKV7 module definitions: LoRA weights are nn.Linear [out,in]
 * (transposed), LoRA biases / k_k / k_a / ffn.x_k are [C], x_* stay [1,1,C], layer 0 has no v_lora.
 */
function toHf(official: ReadonlyMap<string, StoredTensor>, prefix = 'model.'): Map<string, StoredTensor> {
  const hf = new Map<string, StoredTensor>();
  const proj: Record<string, string> = {
    receptance: 'r_proj',
    key: 'k_proj',
    value: 'v_proj',
    output: 'o_proj',
  };
  for (const [name, t] of official) {
    let m: RegExpExecArray | null;
    if (name === 'emb.weight') hf.set(`${prefix}embeddings.weight`, t);
    else if (name === 'head.weight') hf.set('lm_head.weight', t);
    else if ((m = /^ln_out\.(weight|bias)$/.exec(name))) hf.set(`${prefix}norm.${m[1]}`, t);
    else if ((m = /^blocks\.(\d+)\.(.+)$/.exec(name))) {
      const [, i, rest] = m;
      const p = `${prefix}layers.${i}.`;
      let r: RegExpExecArray | null;
      if (i === '0' && /^att\.v[012]$/.test(rest)) continue;
      if ((r = /^ln([012])\.(weight|bias)$/.exec(rest)))
        hf.set(`${p}${['pre_norm', 'attn_norm', 'ffn_norm'][+r[1]]}.${r[2]}`, t);
      else if ((r = /^att\.(x_[rwkvag])$/.exec(rest))) hf.set(`${p}attn.${r[1]}`, t);
      else if ((r = /^att\.(k_k|k_a)$/.exec(rest))) hf.set(`${p}attn.${r[1]}`, squeeze(t));
      else if (rest === 'att.r_k') hf.set(`${p}attn.r_k`, t);
      else if ((r = /^att\.(receptance|key|value|output)\.weight$/.exec(rest)))
        hf.set(`${p}attn.${proj[r[1]]}.weight`, t);
      else if ((r = /^att\.([wavg])1$/.exec(rest)))
        hf.set(`${p}attn.${r[1]}_lora.lora.0.weight`, transpose(t));
      else if ((r = /^att\.([wavg])2$/.exec(rest)))
        hf.set(`${p}attn.${r[1]}_lora.lora.2.weight`, transpose(t));
      else if ((r = /^att\.([wav])0$/.exec(rest))) hf.set(`${p}attn.${r[1]}_lora.lora.2.bias`, squeeze(t));
      else if ((r = /^att\.ln_x\.(weight|bias)$/.exec(rest))) hf.set(`${p}attn.g_norm.${r[1]}`, t);
      else if (rest === 'ffn.x_k') hf.set(`${p}ffn.x_k`, squeeze(t));
      else if (/^ffn\.(key|value)\.weight$/.test(rest)) hf.set(`${p}${rest}`, t);
      else throw new Error(`test mapping misses ${name}`);
    } else throw new Error(`test mapping misses ${name}`);
  }
  return hf;
}

function withoutLayer0V(official: ReadonlyMap<string, StoredTensor>): Map<string, StoredTensor> {
  return new Map([...official].filter(([k]) => !/^blocks\.0\.att\.v[012]$/.test(k)));
}

function expectSameTensors(
  actual: ReadonlyMap<string, StoredTensor>,
  expected: ReadonlyMap<string, StoredTensor>,
): void {
  expect([...actual.keys()]).toEqual([...expected.keys()]);
  for (const [k, e] of expected) {
    const a = actual.get(k)!;
    expect({ k, dtype: a.dtype, shape: a.shape }).toEqual({ k, dtype: e.dtype, shape: e.shape });
    expect(Buffer.from(a.bytes).equals(Buffer.from(e.bytes))).toBe(true);
  }
}

function mappingTests(label: string, load: () => Promise<Rwkv7Checkpoint>): void {
  describe(`HF / fla names → official (${label})`, () => {
    let official: Rwkv7Checkpoint;
    beforeAll(async () => {
      official = await load();
    });

    it('maps names, transposes LoRA weights and restores [1,1,C] shapes', () => {
      const hf = toHf(official.tensors);
      expect(hf.has('model.layers.0.attn.w_lora.lora.0.weight')).toBe(true);
      expect(looksLikeHf(hf.keys())).toBe(true);
      expect(looksLikeHf(official.tensors.keys())).toBe(false);
      const mapped = checkpointFromTensors(hf, 'hf-test');
      expect(mapped.config).toEqual(official.config);
      expectSameTensors(mapped.tensors, withoutLayer0V(official.tensors));
    });

    it('accepts names without the model. prefix and fla v1 x_x [6,C]', () => {
      const hf = toHf(official.tensors, '');
      const C = official.config.nEmbd;
      const rows = ['r', 'w', 'k', 'v', 'a', 'g'].map((x) => hf.get(`layers.1.attn.x_${x}`)!);
      rows.forEach((_, i) => hf.delete(`layers.1.attn.x_${'rwkvag'[i]}`));
      hf.set('layers.1.attn.x_x', {
        dtype: rows[0].dtype,
        shape: [6, C],
        bytes: Buffer.concat(rows.map((r) => r.bytes)),
      });
      const mapped = checkpointFromTensors(hf, 'hf-test');
      expectSameTensors(mapped.tensors, withoutLayer0V(official.tensors));
    });

    it('loads HF-named .safetensors and .pth files like the official ones', async () => {
      const { dir, cleanup } = await scratchDir('hf');
      try {
        const expected = checkpointFingerprint({ ...official, tensors: withoutLayer0V(official.tensors) });
        const st = path.join(dir, 'model.safetensors');
        const bin = path.join(dir, 'pytorch_model.bin');
        await writeSafetensors({ tensors: toHf(official.tensors) }, st);
        await writePth({ tensors: toHf(official.tensors) }, bin, { topFolder: 'archive' });
        expect(checkpointFingerprint(await loadCheckpoint(st))).toBe(expected);
        expect(checkpointFingerprint(await loadCheckpoint(bin))).toBe(expected);
      } finally {
        await cleanup();
      }
    });

    it('rejects HF names it does not know, naming the tensor and the file', () => {
      const hf = toHf(official.tensors);
      hf.set('model.layers.0.attn.mystery.weight', hf.get('model.layers.0.attn.r_k')!);
      expect(() => checkpointFromTensors(hf, 'some.safetensors')).toThrow(CheckpointError);
      expect(() => checkpointFromTensors(hf, 'some.safetensors')).toThrow(
        'some.safetensors: cannot map HF tensor model.layers.0.attn.mystery.weight',
      );
    });
  });
}

mappingTests('random 3-layer model', async () =>
  randomCheckpoint({ nLayer: 3, nEmbd: 128, vocabSize: 512 }, 5),
);

const dir = fixtureDir();
if (haveCheckpointFixtures()) {
  mappingTests('rwkv7-tiny-A fixture', () => loadCheckpoint(path.join(dir, FIXTURE_PTH)));
} else {
  it(`HF mapping on the fixture needs ${dir}`, () => console.warn(`skipped: fixtures not found in ${dir}`));
}
