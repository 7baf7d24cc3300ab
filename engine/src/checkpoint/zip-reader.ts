import { inflateRawSync } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import type { ByteSource } from './byte-source.js';
import { CheckpointError } from './checkpoint-error.js';
import { crc32 } from './crc32.js';

/**
 * Minimal ZIP reader for PyTorch checkpoints: central directory (incl. ZIP64), stored and deflated
 * entries, CRC-32 verified on every read. Sizes and offsets come from the central directory only,
 * because torch writes local headers with data descriptors (sizes 0 there).
 */
export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** Deflate cannot expand better than ~1032:1; anything claiming more is corrupt (or a zip bomb). */
const MAX_DEFLATE_RATIO = 1032;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(path: string, dv: DataView, at: number, what: string): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new CheckpointError(path, `zip: ${what} ${v} is out of range`);
  return Number(v);
}

interface Directory {
  offset: number;
  size: number;
  count: number;
}

/** Finds the end-of-central-directory record (and its ZIP64 twin when the 32-bit fields overflow). */
async function locateDirectory(src: ByteSource): Promise<Directory> {
  const tailLen = Math.min(src.size, EOCD_SIZE + MAX_COMMENT + 20);
  const tailStart = src.size - tailLen;
  const tail = await src.read(tailStart, tailLen, 'zip end-of-central-directory search');
  const dv = view(tail);
  let at = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (dv.getUint32(i, true) === SIG_EOCD && i + EOCD_SIZE + dv.getUint16(i + 20, true) <= tailLen) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    throw new CheckpointError(
      src.path,
      'zip: no end-of-central-directory record (file truncated or not a zip)',
    );
  }
  if (dv.getUint16(at + 4, true) !== 0 || dv.getUint16(at + 6, true) !== 0) {
    throw new CheckpointError(src.path, 'zip: multi-disk archives are not supported');
  }
  let count = dv.getUint16(at + 10, true);
  let size = dv.getUint32(at + 12, true);
  let offset = dv.getUint32(at + 16, true);
  let dirEnd = tailStart + at; // the directory must end where the EOCD (or ZIP64 EOCD) starts
  const needs64 = count === 0xffff || size === 0xffffffff || offset === 0xffffffff;
  const locAt = at - 20;
  if (locAt >= 0 && dv.getUint32(locAt, true) === SIG_EOCD64_LOCATOR) {
    const rec64At = u64(src.path, dv, locAt + 8, 'ZIP64 end-of-directory offset');
    const rec = view(await src.read(rec64At, 56, 'zip ZIP64 end-of-central-directory record'));
    if (rec.getUint32(0, true) !== SIG_EOCD64) {
      throw new CheckpointError(src.path, 'zip: bad ZIP64 end-of-central-directory signature (corrupt file)');
    }
    const count64 = u64(src.path, rec, 32, 'ZIP64 entry count');
    const size64 = u64(src.path, rec, 40, 'ZIP64 directory size');
    const offset64 = u64(src.path, rec, 48, 'ZIP64 directory offset');
    // torch writes both records; a 32-bit field must be the sentinel or agree, else one is corrupt.
    if (
      (count !== 0xffff && count !== count64) ||
      (size !== 0xffffffff && size !== size64) ||
      (offset !== 0xffffffff && offset !== offset64)
    ) {
      throw new CheckpointError(
        src.path,
        'zip: end-of-central-directory and ZIP64 records disagree (corrupt file)',
      );
    }
    [count, size, offset] = [count64, size64, offset64];
    dirEnd = rec64At;
  } else if (needs64) {
    throw new CheckpointError(
      src.path,
      'zip: ZIP64 fields present but the ZIP64 locator is missing (corrupt file)',
    );
  }
  if (offset + size > dirEnd) {
    throw new CheckpointError(
      src.path,
      `zip: central directory (offset ${offset}, ${size} bytes) runs past its end record at ${dirEnd} (truncated or corrupt)`,
    );
  }
  if (count * 46 > size) {
    throw new CheckpointError(
      src.path,
      `zip: ${count} entries cannot fit in a ${size}-byte central directory`,
    );
  }
  return { offset, size, count };
}

/** Applies the ZIP64 extended-information extra field (id 1) to the fields that overflowed. */
function applyZip64Extra(
  path: string,
  extra: DataView,
  name: string,
  fields: { uncompressed: number; compressed: number; offset: number },
): void {
  let p = 0;
  while (p + 4 <= extra.byteLength) {
    const id = extra.getUint16(p, true);
    const len = extra.getUint16(p + 2, true);
    if (p + 4 + len > extra.byteLength) break;
    if (id === 0x0001) {
      let q = p + 4;
      const take = (what: string): number => {
        if (q + 8 > p + 4 + len)
          throw new CheckpointError(path, `zip: ZIP64 extra field of ${name} is too short`);
        const v = u64(path, extra, q, what);
        q += 8;
        return v;
      };
      if (fields.uncompressed === 0xffffffff) fields.uncompressed = take('uncompressed size');
      if (fields.compressed === 0xffffffff) fields.compressed = take('compressed size');
      if (fields.offset === 0xffffffff) fields.offset = take('local header offset');
      return;
    }
    p += 4 + len;
  }
  if (
    fields.uncompressed === 0xffffffff ||
    fields.compressed === 0xffffffff ||
    fields.offset === 0xffffffff
  ) {
    throw new CheckpointError(
      path,
      `zip: entry ${name} needs a ZIP64 extra field but has none (corrupt file)`,
    );
  }
}

/** Reads and validates the central directory. */
export async function readZipDirectory(src: ByteSource): Promise<ZipEntry[]> {
  const dir = await locateDirectory(src);
  const bytes = await src.read(dir.offset, dir.size, 'zip central directory');
  const dv = view(bytes);
  const decoder = new TextDecoder('utf-8');
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < dir.count; i++) {
    if (p + 46 > bytes.length || dv.getUint32(p, true) !== SIG_CENTRAL) {
      throw new CheckpointError(
        src.path,
        `zip: central directory entry ${i} is damaged (bad signature at byte ${dir.offset + p})`,
      );
    }
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > bytes.length) {
      throw new CheckpointError(src.path, `zip: central directory entry ${i} runs past the directory`);
    }
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    const fields = {
      uncompressed: dv.getUint32(p + 24, true),
      compressed: dv.getUint32(p + 20, true),
      offset: dv.getUint32(p + 42, true),
    };
    applyZip64Extra(
      src.path,
      new DataView(bytes.buffer, bytes.byteOffset + p + 46 + nameLen, extraLen),
      name,
      fields,
    );
    const entry: ZipEntry = {
      name,
      flags: dv.getUint16(p + 8, true),
      method: dv.getUint16(p + 10, true),
      crc32: dv.getUint32(p + 16, true),
      compressedSize: fields.compressed,
      uncompressedSize: fields.uncompressed,
      localHeaderOffset: fields.offset,
    };
    if (entry.localHeaderOffset + 30 + entry.compressedSize > dir.offset) {
      throw new CheckpointError(
        src.path,
        `zip: entry ${name} (offset ${entry.localHeaderOffset}, ${entry.compressedSize} bytes) overlaps the central directory`,
      );
    }
    entries.push(entry);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Reads one entry's uncompressed bytes, checking its local header, size and CRC-32. */
export async function readZipEntry(src: ByteSource, entry: ZipEntry): Promise<Uint8Array> {
  const { name } = entry;
  if (entry.flags & 0x0001) throw new CheckpointError(src.path, `zip: entry ${name} is encrypted`);
  const nameBytes = new TextEncoder().encode(name);
  const head = await src.read(entry.localHeaderOffset, 30, `zip local header of ${name}`);
  const hv = view(head);
  if (hv.getUint32(0, true) !== SIG_LOCAL) {
    throw new CheckpointError(
      src.path,
      `zip: bad local header signature for ${name} at byte ${entry.localHeaderOffset} (corrupt file)`,
    );
  }
  const nameLen = hv.getUint16(26, true);
  const extraLen = hv.getUint16(28, true);
  const localName = await src.read(entry.localHeaderOffset + 30, nameLen, `zip local header of ${name}`);
  if (nameLen !== nameBytes.length || !localName.every((b, i) => b === nameBytes[i])) {
    throw new CheckpointError(
      src.path,
      `zip: local header name does not match directory entry ${name} (corrupt file)`,
    );
  }
  const dataStart = entry.localHeaderOffset + 30 + nameLen + extraLen;
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      throw new CheckpointError(
        src.path,
        `zip: stored entry ${name} has compressed size ${entry.compressedSize} != size ${entry.uncompressedSize}`,
      );
    }
    data = await src.read(dataStart, entry.compressedSize, `zip entry ${name}`);
  } else if (entry.method === 8) {
    const n = entry.uncompressedSize;
    if (n > bufferConstants.MAX_LENGTH || n > entry.compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw new CheckpointError(
        src.path,
        `zip: entry ${name} claims an implausible size ${n} for ${entry.compressedSize} compressed bytes`,
      );
    }
    const packed = await src.read(dataStart, entry.compressedSize, `zip entry ${name}`);
    try {
      data = inflateRawSync(packed, { maxOutputLength: Math.max(1, n) });
    } catch (err) {
      throw new CheckpointError(src.path, `zip: cannot inflate entry ${name}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (data.length !== n) {
      throw new CheckpointError(
        src.path,
        `zip: entry ${name} inflated to ${data.length} bytes, directory says ${n}`,
      );
    }
  } else {
    throw new CheckpointError(
      src.path,
      `zip: entry ${name} uses unsupported compression method ${entry.method}`,
    );
  }
  const actual = crc32(data);
  if (actual !== entry.crc32) {
    throw new CheckpointError(
      src.path,
      `zip: CRC-32 mismatch in ${name} (directory 0x${entry.crc32.toString(16).padStart(8, '0')}, data 0x${actual.toString(16).padStart(8, '0')}): the file is corrupt`,
    );
  }
  return data;
}

/** A torch archive inside a zip: the folder holding data.pkl, whatever its name. */
export interface TorchArchive {
  /** Top folder including the trailing slash, e.g. `archive/`; empty if data.pkl is at the root. */
  readonly prefix: string;
  readonly pickle: ZipEntry;
  readonly entries: ReadonlyMap<string, ZipEntry>;
}

/** Finds `<folder>/data.pkl`; storages then live at `<folder>/data/<key>`. */
export function findTorchArchive(path: string, entries: readonly ZipEntry[]): TorchArchive {
  const pickles = entries.filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (pickles.length === 0) {
    throw new CheckpointError(path, 'zip has no <folder>/data.pkl: not a PyTorch checkpoint');
  }
  if (pickles.length > 1) {
    throw new CheckpointError(
      path,
      `zip has several data.pkl records (${pickles.map((e) => e.name).join(', ')})`,
    );
  }
  const pickle = pickles[0];
  return {
    prefix: pickle.name.slice(0, pickle.name.length - 'data.pkl'.length),
    pickle,
    entries: new Map(entries.map((e) => [e.name, e])),
  };
}
