import type { StoredTensor } from '../model/tensor.js';
import { CheckpointError, checkpointFromTensors, deriveConfig, randomCheckpoint } from './index.js';

const base = randomCheckpoint({ nLayer: 3, nEmbd: 128, vocabSize: 300, dimFfn: 256 }, 4);
const edit = (f: (m: Map<string, StoredTensor>) => void) => {
  const m = new Map(base.tensors);
  f(m);
  return m;
};

describe('deriveConfig', () => {
  it('derives every dimension from shapes', () => {
    expect(deriveConfig(base.tensors, 'x.pth')).toEqual({
      nLayer: 3,
      nEmbd: 128,
      nHead: 2,
      headSize: 64,
      vocabSize: 300,
      dimFfn: 256,
      dimDecayLora: 32,
      dimALora: 32,
      dimVLora: 32,
      dimGateLora: 64,
    });
  });

  it.each<[string, Map<string, StoredTensor>, RegExp]>([
    ['no embedding', edit((m) => m.delete('emb.weight')), /x\.pth: missing tensor emb\.weight/],
    ['a missing layer tensor', edit((m) => m.delete('blocks.2.att.k_a')), /missing blocks\.2\.att\.k_a/],
    [
      'a misshaped tensor',
      edit((m) => m.set('blocks.1.att.w1', { ...m.get('blocks.1.att.w1')!, shape: [64, 64] })),
      /blocks\.1\.att\.w1 has shape \[64,64\], expected \[128,32\]/,
    ],
    [
      'an extra tensor',
      edit((m) => m.set('blocks.1.att.time_faaaa', m.get('blocks.1.att.k_a')!)),
      /unexpected tensor blocks\.1\.att\.time_faaaa/,
    ],
    [
      'a corrupt block index',
      edit((m) => m.set('blocks.99999999999.att.k_a', m.get('blocks.1.att.k_a')!)),
      /block indices are not 0\.\.99999999999/,
    ],
    [
      'a gap in the blocks',
      edit((m) => {
        for (const k of [...m.keys()]) if (k.startsWith('blocks.1.')) m.delete(k);
      }),
      /block indices are not 0\.\.2/,
    ],
    [
      'r_k inconsistent with n_embd',
      edit((m) => m.set('blocks.0.att.r_k', { ...m.get('blocks.0.att.r_k')!, shape: [4, 64] })),
      /r_k shape \[4, 64\] does not match n_embd 128/,
    ],
    [
      'a partial layer-0 value residual',
      edit((m) => m.delete('blocks.0.att.v2')),
      /missing blocks\.0\.att\.v2/,
    ],
  ])('rejects %s, naming the file', (_what, tensors, msg) => {
    expect(() => deriveConfig(tensors, 'x.pth')).toThrow(CheckpointError);
    expect(() => deriveConfig(tensors, 'x.pth')).toThrow(msg);
  });

  it('normalises [C]-shaped vectors to [1,1,C] before validating', () => {
    const flat = edit((m) => {
      for (const k of ['blocks.1.att.k_k', 'blocks.1.att.w0', 'blocks.2.ffn.x_k'])
        m.set(k, { ...m.get(k)!, shape: [128] });
    });
    const ckpt = checkpointFromTensors(flat, 'flat.safetensors');
    expect(ckpt.tensors.get('blocks.1.att.k_k')!.shape).toEqual([1, 1, 128]);
    expect(ckpt.tensors.get('blocks.2.ffn.x_k')!.shape).toEqual([1, 1, 128]);
  });
});
