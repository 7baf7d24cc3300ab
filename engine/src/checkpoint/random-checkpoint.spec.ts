import * as path from 'node:path';
import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { numel, toFloat32 } from '../model/tensor.js';
import {
  checkpointFingerprint,
  loadCheckpoint,
  MODEL_SHAPES,
  officialTensorSpecs,
  parameterCount,
  randomCheckpoint,
  resolveShape,
  writePth,
  writeSafetensors,
} from './index.js';
import { scratchDir } from './test-fixtures.js';

const SMALL = { nLayer: 2, nEmbd: 128, vocabSize: 1024 };

function sameBytes(a: Rwkv7Checkpoint, b: Rwkv7Checkpoint): boolean {
  return [...a.tensors].every(([k, t]) => Buffer.from(t.bytes).equals(Buffer.from(b.tensors.get(k)!.bytes)));
}

describe('randomCheckpoint', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = randomCheckpoint(SMALL, 42);
    const b = randomCheckpoint(SMALL, 42);
    const c = randomCheckpoint(SMALL, 43);
    expect(sameBytes(a, b)).toBe(true);
    expect(checkpointFingerprint(a)).toBe(checkpointFingerprint(b));
    expect(checkpointFingerprint(a)).not.toBe(checkpointFingerprint(c));
    for (const [k, t] of a.tensors)
      expect({ k, same: Buffer.from(t.bytes).equals(Buffer.from(c.tensors.get(k)!.bytes)) }).toEqual({
        k,
        same: false,
      });
  });

  it('uses the official names, shapes and order', () => {
    const ckpt = randomCheckpoint(SMALL, 1);
    const specs = officialTensorSpecs(ckpt.config, true);
    expect([...ckpt.tensors.keys()]).toEqual(specs.map((s) => s.name));
    for (const s of specs) expect(ckpt.tensors.get(s.name)!.shape).toEqual(s.shape);
    const noV = randomCheckpoint({ ...SMALL, layer0ValueResidual: false }, 1);
    expect(noV.tensors.has('blocks.0.att.v0')).toBe(false);
    expect(noV.tensors.has('blocks.1.att.v0')).toBe(true);
  });

  it('derives default LoRA ranks like BlinkDL (Python rounding) and rejects impossible shapes', () => {
    expect(resolveShape({ nLayer: 12, nEmbd: 768 })).toMatchObject({
      dimDecayLora: 64,
      dimALora: 64,
      dimVLora: 32,
      dimGateLora: 128,
      dimFfn: 3072,
      nHead: 12,
    });
    expect(resolveShape({ nLayer: 24, nEmbd: 1024 })).toMatchObject({
      dimDecayLora: 64,
      dimALora: 64,
      dimVLora: 64,
    });
    expect(() => resolveShape({ nLayer: 1, nEmbd: 100 })).toThrow(/multiple of headSize/);
    expect(() => resolveShape({ nLayer: 0, nEmbd: 128 })).toThrow(/nLayer/);
  });

  it('has the parameter counts of the released 0.1B and 0.4B models', () => {
    expect(parameterCount(resolveShape(MODEL_SHAPES['0.1b']))).toBe(191_084_544);
    expect(parameterCount(resolveShape(MODEL_SHAPES['0.4b']))).toBe(452_407_296);
  });

  it('generates the real 0.1B shape (12 x 768) with the expected parameter count', () => {
    const t0 = Date.now();
    const ckpt = randomCheckpoint(MODEL_SHAPES['0.1b'], 7);
    const ms = Date.now() - t0;
    const params = [...ckpt.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
    const bytes = [...ckpt.tensors.values()].reduce((n, t) => n + t.bytes.length, 0);
    expect(params).toBe(191_084_544);
    expect(bytes).toBe(2 * params);
    expect(ckpt.tensors.size).toBe(1 + 2 + 12 * 33 + 3);
    expect(ckpt.config).toEqual({ ...MODEL_SHAPES['0.1b'], nHead: 12 } as unknown as typeof ckpt.config);
    console.log(`0.1B random checkpoint (${params} params) generated in ${ms} ms`);
  });

  it('scales values like a trained model', () => {
    const ckpt = randomCheckpoint({ nLayer: 4, nEmbd: 256, vocabSize: 2048 }, 9);
    const f = (name: string) => toFloat32(ckpt.tensors.get(name)!);
    const stats = (x: Float32Array) => {
      const mean = x.reduce((a, b) => a + b, 0) / x.length;
      const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
      return { mean, std, min: x.reduce((a, b) => Math.min(a, b)), max: x.reduce((a, b) => Math.max(a, b)) };
    };
    const decays: number[] = [];
    const rates: number[] = [];
    for (let i = 0; i < 4; i++) {
      // Official: w = -softplus(-w0) - 0.5, decay = exp(-exp(w)); a = sigmoid(a0).
      for (const w0 of f(`blocks.${i}.att.w0`))
        decays.push(Math.exp(-Math.exp(-Math.log1p(Math.exp(-w0)) - 0.5)));
      for (const a0 of f(`blocks.${i}.att.a0`)) rates.push(1 / (1 + Math.exp(-a0)));
      const kk = stats(f(`blocks.${i}.att.k_k`));
      expect(kk.min).toBeGreaterThanOrEqual(0.5);
      expect(kk.max).toBeLessThanOrEqual(1.5);
      expect(stats(f(`blocks.${i}.ln1.weight`)).mean).toBeCloseTo(1, 1);
      expect(stats(f(`blocks.${i}.att.receptance.weight`)).std).toBeCloseTo(1 / 16, 2);
      expect(stats(f(`blocks.${i}.ffn.key.weight`)).std).toBeCloseTo(1 / 16, 2);
    }
    expect(Math.min(...decays)).toBeGreaterThan(0.55);
    expect(Math.min(...decays)).toBeLessThan(0.62);
    expect(Math.max(...decays)).toBeGreaterThan(0.999);
    expect(Math.max(...decays)).toBeLessThan(0.99995);
    expect(Math.min(...rates)).toBeGreaterThan(0.09);
    expect(Math.min(...rates)).toBeLessThan(0.15);
    expect(Math.max(...rates)).toBeLessThan(0.91);
    expect(Math.max(...rates)).toBeGreaterThan(0.85);
    const emb = stats(f('emb.weight'));
    expect(emb.mean).toBeCloseTo(0, 1);
    expect(emb.std).toBeCloseTo(1, 1);
  });

  it('rounds the same underlying values into bf16, f16 and f32', () => {
    const shape = { nLayer: 1, nEmbd: 64, vocabSize: 256 };
    const [b, h, s] = (['bf16', 'f16', 'f32'] as const).map((d) => randomCheckpoint(shape, 2, d));
    for (const [k, t32] of s.tensors) {
      const x = toFloat32(t32);
      const xb = toFloat32(b.tensors.get(k)!);
      const xh = toFloat32(h.tensors.get(k)!);
      expect(b.tensors.get(k)!.dtype).toBe('bf16');
      expect(h.tensors.get(k)!.dtype).toBe('f16');
      let errB = 0;
      let errH = 0;
      for (let i = 0; i < x.length; i++) {
        errB = Math.max(errB, Math.abs(xb[i] - x[i]) - Math.abs(x[i]) * 2 ** -8);
        errH = Math.max(errH, Math.abs(xh[i] - x[i]) - Math.abs(x[i]) * 2 ** -11 - 2 ** -25);
      }
      expect({ k, errB: errB <= 0, errH: errH <= 0 }).toEqual({ k, errB: true, errH: true });
    }
  });
});

describe('writeSafetensors / writePth round-trip through loadCheckpoint bit-exactly', () => {
  const variants: [
    string,
    Parameters<typeof randomCheckpoint>[2],
    Parameters<typeof writePth>[2] | 'st',
    boolean,
  ][] = [
    ['bf16 .safetensors', 'bf16', 'st', true],
    ['bf16 .pth', 'bf16', {}, true],
    ['f16 .safetensors without layer-0 v', 'f16', 'st', false],
    ['f32 .pth without layer-0 v', 'f32', {}, false],
    ['bf16 .pth with ZIP64 records', 'bf16', { forceZip64: true }, true],
    ['f16 .pth, deflated', 'f16', { compress: true }, true],
  ];
  it.each(variants)('%s', async (_label, dtype, how, v0) => {
    const { dir, cleanup } = await scratchDir('rt');
    try {
      const ckpt = randomCheckpoint(
        { nLayer: 3, nEmbd: 128, vocabSize: 700, layer0ValueResidual: v0 },
        11,
        dtype,
      );
      const file = path.join(dir, how === 'st' ? 'm.safetensors' : 'm.pth');
      if (how === 'st') await writeSafetensors(ckpt, file);
      else await writePth(ckpt, file, how);
      const loaded = await loadCheckpoint(file);
      expect(loaded.config).toEqual(ckpt.config);
      expect([...loaded.tensors.keys()]).toEqual([...ckpt.tensors.keys()]);
      expect(sameBytes(loaded, ckpt)).toBe(true);
      expect(checkpointFingerprint(loaded)).toBe(checkpointFingerprint(ckpt));
    } finally {
      await cleanup();
    }
  });
});
