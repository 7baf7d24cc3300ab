import { Rwkv7Config } from '../model/rwkv7-config.js';
import { QUANT_BLOCK_SIZE, WeightDType } from '../graph/linear-weights.js';

/** Bytes per weight of the large projections in each storage (quantised: codes + one fp32 scale per block). */
export function bytesPerWeight(dtype: WeightDType): number {
  switch (dtype) {
    case 'fp32':
      return 4;
    case 'fp16':
      return 2;
    case 'int8':
      return 1 + 4 / QUANT_BLOCK_SIZE;
    case 'int4':
      return 0.5 + 4 / QUANT_BLOCK_SIZE;
  }
}

/**
 * Weight bytes a batch-1 decode step must read from memory: every projection and the head in the chosen
 * storage, the LoRA and per-channel vectors in fp32, and one embedding row. This is what bounds batch-1
 * decode: at bandwidth B, no engine can beat B / bytes tokens per second.
 */
export function weightBytesPerToken(c: Rwkv7Config, dtype: WeightDType): number {
  const C = c.nEmbd;
  const big = c.nLayer * (4 * C * C + 2 * C * c.dimFfn) + c.vocabSize * C;
  const lora = c.nLayer * 2 * C * (c.dimDecayLora + c.dimALora + c.dimVLora + c.dimGateLora);
  const vectors = c.nLayer * 16 * C + 4 * C;
  return big * bytesPerWeight(dtype) + (lora + vectors + C) * 4;
}
