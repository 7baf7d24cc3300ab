import type { StoredDType, StoredTensor } from '../model/tensor.js';
import { bytesPerElement } from '../model/tensor.js';
import type { ByteSource } from './byte-source.js';
import { CheckpointError } from './checkpoint-error.js';

/**
 * Reads a `.safetensors` file: u64 LE header length, JSON header, packed little-endian data.
 * Every offset is checked against the file size before any tensor is read.
 */

/** The safetensors reference implementation rejects headers above 100 MB; so do we. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

const DTYPES: Record<string, StoredDType> = { BF16: 'bf16', F16: 'f16', F32: 'f32' };

export interface SafetensorsFile {
  readonly tensors: Map<string, StoredTensor>;
  readonly metadata: Record<string, string>;
}

/** Reads the 8-byte header length; null if it cannot be a safetensors header for a file of this size. */
export function safetensorsHeaderLength(first8: Uint8Array, fileSize: number): number | null {
  if (first8.length < 8 || fileSize < 10) return null;
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n < 2n || n > BigInt(Math.min(fileSize - 8, MAX_SAFETENSORS_HEADER))) return null;
  return Number(n);
}

interface Entry {
  name: string;
  dtype: StoredDType;
  shape: number[];
  begin: number;
  end: number;
}

export async function readSafetensors(src: ByteSource): Promise<SafetensorsFile> {
  const fail = (msg: string): never => {
    throw new CheckpointError(src.path, `safetensors: ${msg}`);
  };
  const first8 = await src.read(0, 8, 'safetensors header length');
  const raw = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  const headerLen = safetensorsHeaderLength(first8, src.size);
  if (headerLen === null) {
    return fail(`header length ${raw} does not fit in a ${src.size}-byte file (truncated or corrupt)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(await src.read(8, headerLen, 'safetensors header')),
    );
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    return fail(`bad header JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    return fail('header JSON is not an object');

  const dataStart = 8 + headerLen;
  const dataLen = src.size - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof info === 'object' && info !== null) {
        for (const [k, v] of Object.entries(info)) if (typeof v === 'string') metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, info, dataLen, fail));
  }
  // File order is data order; JSON key order is not reliable (numeric-looking keys jump ahead in JS).
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].begin < entries[i - 1].end)
      fail(`tensors ${entries[i - 1].name} and ${entries[i].name} overlap`);
  }

  const tensors = new Map<string, StoredTensor>();
  for (const e of entries) {
    const bytes = await src.read(dataStart + e.begin, e.end - e.begin, `safetensors tensor ${e.name}`);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes });
  }
  return { tensors, metadata };
}

function parseEntry(name: string, info: unknown, dataLen: number, fail: (m: string) => never): Entry {
  if (typeof info !== 'object' || info === null) return fail(`entry ${name} is not an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') return fail(`tensor ${name} has no dtype`);
  const dt = DTYPES[dtype];
  if (!dt)
    return fail(`tensor ${name} has unsupported dtype ${JSON.stringify(dtype)} (supported: BF16, F16, F32)`);
  const isDim = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!Array.isArray(shape) || !shape.every(isDim)) return fail(`tensor ${name} has a malformed shape`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDim)) {
    return fail(`tensor ${name} has malformed data_offsets`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataLen) {
    return fail(
      `tensor ${name} data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data section (truncated or corrupt)`,
    );
  }
  // Multiply in floating point first: a corrupt shape must not wrap around to a plausible size.
  const expected = (shape as number[]).reduce((a, b) => a * b, 1) * bytesPerElement(dt);
  if (expected !== end - begin) {
    return fail(
      `tensor ${name} shape [${shape}] ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`,
    );
  }
  return { name, dtype: dt, shape: shape as number[], begin, end };
}
