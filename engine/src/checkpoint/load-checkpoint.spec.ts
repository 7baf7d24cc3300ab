import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { numel } from '../model/tensor.js';
import { checkpointFingerprint, loadCheckpoint, writePth, writeSafetensors } from './index.js';
import {
  fixtureDir,
  FIXTURE_PTH,
  FIXTURE_SAFETENSORS,
  haveCheckpointFixtures,
  scratchDir,
} from './test-fixtures.js';

const dir = fixtureDir();

if (!haveCheckpointFixtures()) {
  it(`needs the checkpoint fixtures in ${dir}`, () => {
    console.warn(`skipped: ${path.join(dir, FIXTURE_PTH)} not found`);
  });
} else {
  describe('loadCheckpoint on the rwkv7-tiny-A fixtures', () => {
    const golden = JSON.parse(readFileSync(path.join(dir, 'golden-A.json'), 'utf8')).model;
    let pth: Rwkv7Checkpoint;
    let st: Rwkv7Checkpoint;

    beforeAll(async () => {
      pth = await loadCheckpoint(path.join(dir, FIXTURE_PTH));
      st = await loadCheckpoint(path.join(dir, FIXTURE_SAFETENSORS));
    });

    it('derives the config of golden-A.json from shapes alone', () => {
      const expected = {
        nLayer: golden.n_layer,
        nEmbd: golden.n_embd,
        nHead: golden.n_head,
        headSize: golden.head_size,
        vocabSize: golden.vocab_size,
        dimFfn: golden.dim_ffn,
        dimDecayLora: golden.lora_dims.decay,
        dimALora: golden.lora_dims.a,
        dimVLora: golden.lora_dims.v,
        dimGateLora: golden.lora_dims.gate,
      };
      expect(pth.config).toEqual(expected);
      expect(st.config).toEqual(expected);
      expect(expected).toEqual({
        nLayer: 2,
        nEmbd: 128,
        nHead: 2,
        headSize: 64,
        vocabSize: 65536,
        dimFfn: 512,
        dimDecayLora: 32,
        dimALora: 32,
        dimVLora: 32,
        dimGateLora: 64,
      });
    });

    it('has every tensor of the file, in file order, with its shape and dtype', () => {
      const keys: [string, number[]][] = golden.keys_in_file_order;
      for (const ckpt of [pth, st]) {
        expect([...ckpt.tensors.keys()]).toEqual(keys.map(([k]) => k));
        for (const [k, shape] of keys) {
          const t = ckpt.tensors.get(k);
          expect(t?.shape).toEqual(shape);
          expect(t?.dtype).toBe('bf16');
          expect(t?.bytes.length).toBe(numel(shape) * 2);
        }
        const params = [...ckpt.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
        expect(params).toBe(golden.num_params);
      }
    });

    it('reads bit-identical tensors from .pth and .safetensors, so the fingerprints match', () => {
      for (const [k, a] of pth.tensors) {
        expect(Buffer.from(a.bytes).equals(Buffer.from(st.tensors.get(k)!.bytes))).toBe(true);
      }
      expect(checkpointFingerprint(pth)).toMatch(/^[0-9a-f]{64}$/);
      expect(checkpointFingerprint(pth)).toBe(checkpointFingerprint(st));
    });

    it('records the source path', () => {
      expect(pth.sourcePath).toBe(path.join(dir, FIXTURE_PTH));
    });

    it('loads a file whose layer 0 has no v0/v1/v2, with the same config', async () => {
      const { dir: tmp, cleanup } = await scratchDir('no-v0');
      try {
        const tensors = new Map(st.tensors);
        for (const k of ['blocks.0.att.v0', 'blocks.0.att.v1', 'blocks.0.att.v2']) tensors.delete(k);
        const file = path.join(tmp, 'no-v0.safetensors');
        await writeSafetensors({ tensors }, file);
        const loaded = await loadCheckpoint(file);
        expect(loaded.config).toEqual(st.config);
        expect(loaded.tensors.size).toBe(69);
        expect(loaded.tensors.has('blocks.0.att.v0')).toBe(false);
        expect(loaded.tensors.has('blocks.1.att.v0')).toBe(true);
        const pthFile = path.join(tmp, 'no-v0.pth');
        await writePth({ tensors }, pthFile);
        expect(checkpointFingerprint(await loadCheckpoint(pthFile))).toBe(checkpointFingerprint(loaded));
      } finally {
        await cleanup();
      }
    });

    it('still requires v0/v1/v2 in layers other than 0', async () => {
      const { dir: tmp, cleanup } = await scratchDir('no-v1');
      try {
        const tensors = new Map(st.tensors);
        tensors.delete('blocks.1.att.v0');
        const file = path.join(tmp, 'no-v1.safetensors');
        await writeSafetensors({ tensors }, file);
        await expect(loadCheckpoint(file)).rejects.toThrow(`${file}: not a valid RWKV-7 (x070) checkpoint`);
        await expect(loadCheckpoint(file)).rejects.toThrow('missing blocks.1.att.v0');
      } finally {
        await cleanup();
      }
    });

    it('round-trips the fixture through writePth and writeSafetensors bit-exactly', async () => {
      const { dir: tmp, cleanup } = await scratchDir('roundtrip');
      try {
        const a = path.join(tmp, 'copy.pth');
        const b = path.join(tmp, 'copy.safetensors');
        await writePth(pth, a);
        await writeSafetensors(pth, b);
        expect(checkpointFingerprint(await loadCheckpoint(a))).toBe(checkpointFingerprint(pth));
        expect(checkpointFingerprint(await loadCheckpoint(b))).toBe(checkpointFingerprint(pth));
        // Our safetensors writer reproduces the reference file byte for byte.
        expect(readFileSync(b).equals(readFileSync(path.join(dir, FIXTURE_SAFETENSORS)))).toBe(true);
      } finally {
        await cleanup();
      }
    });
  });
}
