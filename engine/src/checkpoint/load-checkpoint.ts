import { createHash } from 'node:crypto';
import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import type { StoredTensor } from '../model/tensor.js';
import { openFileSource, type ByteSource } from './byte-source.js';
import { asCheckpointError, CheckpointError } from './checkpoint-error.js';
import { deriveConfig } from './derive-config.js';
import { looksLikeHf, mapHfToOfficial } from './hf-key-mapping.js';
import { officialTensorSpecs, VECTOR_PARAMS } from './official-layout.js';
import { readPth } from './pth-reader.js';
import { readSafetensors } from './safetensors-reader.js';
import { reshape } from './tensor-ops.js';

export type CheckpointFormat = 'pth' | 'safetensors';

/**
 * Loads an RWKV-7 checkpoint (.pth zip or .safetensors, official or HF/fla names) into the one internal
 * layout. Any failure, including unexpected internal ones, is a CheckpointError naming the file.
 */
export async function loadCheckpoint(path: string): Promise<Rwkv7Checkpoint> {
  const src = await openFileSource(path);
  try {
    const { tensors } = await readCheckpointTensors(src);
    return checkpointFromTensors(tensors, path);
  } catch (err) {
    throw asCheckpointError(path, err, 'cannot load checkpoint');
  } finally {
    await src.close();
  }
}

/** Detects the container by its magic bytes (never the extension) and reads the raw tensors. */
export async function readCheckpointTensors(
  src: ByteSource,
): Promise<{ format: CheckpointFormat; tensors: Map<string, StoredTensor> }> {
  if (src.size < 8) throw new CheckpointError(src.path, `file has only ${src.size} bytes: not a checkpoint`);
  const head = await src.read(0, Math.min(16, src.size), 'magic bytes');
  const isZip =
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
  if (isZip) return { format: 'pth', tensors: await readPth(src) };
  if (head[0] === 0x80 && head[1] === 0x02 && head[2] === 0x8a && head[3] === 0x0a) {
    throw new CheckpointError(
      src.path,
      'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a current torch',
    );
  }
  // safetensors: u64 header length, then the JSON header's '{'. The length itself is validated by the reader.
  if (head.length > 8 && head[8] === 0x7b) {
    return { format: 'safetensors', tensors: (await readSafetensors(src)).tensors };
  }
  const hex = Buffer.from(head.subarray(0, 8)).toString('hex').replace(/(..)/g, '$1 ').trim();
  throw new CheckpointError(
    src.path,
    `not a checkpoint: neither a PyTorch zip nor a safetensors file (first bytes: ${hex})`,
  );
}

/** HF mapping, shape normalisation, config derivation and official ordering. */
export function checkpointFromTensors(
  raw: ReadonlyMap<string, StoredTensor>,
  sourcePath: string,
): Rwkv7Checkpoint {
  const mapped = looksLikeHf(raw.keys()) ? mapHfToOfficial(raw, sourcePath) : new Map(raw);
  for (const [name, t] of mapped) {
    // [C] / [1,C] / [1,1,C] all mean the same vector; the engine sees [1,1,C].
    if (
      VECTOR_PARAMS.test(name) &&
      t.shape.length >= 1 &&
      t.shape.length <= 3 &&
      t.shape.slice(0, -1).every((d) => d === 1)
    ) {
      mapped.set(name, reshape(t, [1, 1, t.shape[t.shape.length - 1]]));
    }
  }
  const config = deriveConfig(mapped, sourcePath);
  const tensors = new Map<string, StoredTensor>();
  for (const spec of officialTensorSpecs(config, mapped.has('blocks.0.att.v0'))) {
    tensors.set(spec.name, mapped.get(spec.name) as StoredTensor);
  }
  return { config, tensors, sourcePath };
}

/**
 * Hex SHA-256 over the sorted tensor names, dtypes, shapes and raw bytes: equal for two files that hold
 * the same tensors, whatever their container or tensor order.
 */
export function checkpointFingerprint(ckpt: Rwkv7Checkpoint): string {
  const h = createHash('sha256');
  for (const name of [...ckpt.tensors.keys()].sort()) {
    const t = ckpt.tensors.get(name) as StoredTensor;
    h.update(`${name}\0${t.dtype}\0${t.shape.join(',')}\0${t.bytes.length}\0`);
    h.update(t.bytes);
  }
  return h.digest('hex');
}
