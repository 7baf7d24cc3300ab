import { Rwkv7Engine, WeightDType, checkpointFingerprint, loadCheckpoint } from '@gooseherd/engine';

/** Loads a checkpoint and wraps it in an engine (graphs come from the on-disk cache after the first use). */
export async function openModel(file: string, weights: WeightDType, threads?: number): Promise<Rwkv7Engine> {
  const ckpt = await loadCheckpoint(file);
  return Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), { weights, threads });
}
