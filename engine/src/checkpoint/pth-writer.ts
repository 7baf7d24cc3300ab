import { basename, extname } from 'node:path';
import type { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { writeFileAtomically } from './file-writer.js';
import { pickleStateDict } from './pickle-writer.js';
import { ZipWriter } from './zip-writer.js';

export interface WritePthOptions {
  /** Top folder inside the zip; default: the file name without extension (as torch does). */
  readonly topFolder?: string;
  /** Always write ZIP64 records (torch does only past 4 GB); lets tests cover the ZIP64 path. */
  readonly forceZip64?: boolean;
  /** Deflate the records (torch never does; for testing the reader's method-8 path). */
  readonly compress?: boolean;
}

/**
 * Writes a checkpoint in the `torch.save` zip layout the official releases use: `<stem>/data.pkl`
 * (protocol 2, one `_rebuild_tensor_v2` per tensor), `<stem>/data/<n>` raw little-endian storages,
 * `<stem>/byteorder` and `<stem>/version`.
 */
export async function writePth(
  ckpt: Pick<Rwkv7Checkpoint, 'tensors'>,
  path: string,
  options: WritePthOptions = {},
): Promise<void> {
  const stem = basename(path, extname(path)).replace(/[^\w.-]/g, '_');
  const top = options.topFolder ?? (stem || 'archive');
  const tensors = [...ckpt.tensors].map(([name, t], i) => ({ name, t, key: String(i) }));
  const pickle = pickleStateDict(
    tensors.map(({ name, t, key }) => ({ name, dtype: t.dtype, shape: t.shape, storageKey: key })),
  );
  // torch writes storages sorted by key as strings (0, 1, 10, 11, ...).
  const records = [...tensors].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const compress = options.compress ?? false;
  await writeFileAtomically(path, async (out) => {
    const zip = new ZipWriter(out, { forceZip64: options.forceZip64 });
    await zip.add(`${top}/data.pkl`, pickle, compress);
    await zip.add(`${top}/byteorder`, Buffer.from('little'), compress);
    for (const r of records) await zip.add(`${top}/data/${r.key}`, r.t.bytes, compress);
    await zip.add(`${top}/version`, Buffer.from('3\n'), compress);
    await zip.finish();
  });
}
