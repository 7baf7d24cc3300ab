import { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { WeightDType } from '../graph/linear-weights.js';
import { Rwkv7Engine } from '../runtime/rwkv7-engine.js';
import { argmax } from '../sampling/sampler.js';

export interface QuantAccuracy {
  readonly dtype: WeightDType;
  /** Largest |logit − fp32 logit| over every position of the prompt and the generated continuation. */
  readonly maxLogitError: number;
  readonly meanLogitError: number;
  /** Fraction of positions where the argmax equals fp32's, fed fp32's own greedy continuation. */
  readonly greedyAgreement: number;
  readonly generatedTokens: number;
}

/**
 * Compares a reduced-precision engine with fp32 on the same checkpoint: fp32 generates `generate` tokens
 * greedily after `prompt`; the other engine reads the same sequence (teacher forcing), and at every
 * position we compare logits and greedy choices.
 */
export async function measureQuantAccuracy(
  ckpt: Rwkv7Checkpoint,
  fingerprint: string,
  dtype: WeightDType,
  prompt: number[],
  generate = 256,
  options: { cacheDir?: string; threads?: number } = {},
): Promise<QuantAccuracy> {
  const reference = Rwkv7Engine.create(ckpt, fingerprint, { ...options, weights: 'fp32' });
  const candidate = Rwkv7Engine.create(ckpt, fingerprint, { ...options, weights: dtype });
  try {
    const V = ckpt.config.vocabSize;
    // fp32 greedy continuation
    const sequence = [...prompt];
    let out = await reference.prefill(prompt, reference.zeroState());
    for (let i = 0; i < generate; i++) {
      const next = argmax(out.logits as Float32Array);
      sequence.push(next);
      out = await reference.step([next], out.state);
    }
    const inputs = sequence.slice(0, -1);
    const ref = await reference.evaluate(inputs, reference.zeroState());
    const got = await candidate.evaluate(inputs, candidate.zeroState());
    let maxErr = 0;
    let sumErr = 0;
    for (let i = 0; i < ref.logits.length; i++) {
      const d = Math.abs(ref.logits[i] - got.logits[i]);
      if (d > maxErr) maxErr = d;
      sumErr += d;
    }
    let agree = 0;
    for (let p = prompt.length - 1; p < inputs.length; p++) {
      const a = argmax(ref.logits.subarray(p * V, (p + 1) * V));
      const b = argmax(got.logits.subarray(p * V, (p + 1) * V));
      if (a === b) agree++;
    }
    return {
      dtype,
      maxLogitError: maxErr,
      meanLogitError: sumErr / ref.logits.length,
      greedyAgreement: agree / generate,
      generatedTokens: generate,
    };
  } finally {
    await reference.release();
    await candidate.release();
  }
}
