import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { writeFileAtomically } from './file-writer.js';

const DTYPE_NAMES = { bf16: 'BF16', f16: 'F16', f32: 'F32' } as const;

/**
 * Writes a checkpoint as `.safetensors` the way the `safetensors` library does: tensors packed in map
 * order, `__metadata__ = {"format":"pt"}`, header padded with spaces to a multiple of 8.
 */
export async function writeSafetensors(ckpt: Pick<Rwkv7Checkpoint, 'tensors'>, path: string): Promise<void> {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, t] of ckpt.tensors) {
    header[name] = {
      dtype: DTYPE_NAMES[t.dtype],
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.length],
    };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(jsonBytes.length));
  await writeFileAtomically(path, async (w) => {
    await w.write(len);
    await w.write(jsonBytes);
    for (const t of ckpt.tensors.values()) await w.write(t.bytes);
  });
}
