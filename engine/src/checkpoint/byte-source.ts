import { open, stat, type FileHandle } from 'node:fs/promises';
import { CheckpointError } from './checkpoint-error.js';

/**
 * Random access to a checkpoint's bytes. Parsers read only the ranges they need, so a multi-GB file is
 * never loaded whole, and every read is bounds-checked against the real size BEFORE anything is
 * allocated: a corrupt length field becomes a CheckpointError, never an out-of-memory.
 */
export interface ByteSource {
  readonly path: string;
  readonly size: number;
  /** Exactly `length` bytes at `offset`; throws CheckpointError if the range is outside the file. */
  read(offset: number, length: number, what: string): Promise<Uint8Array>;
}

function checkRange(path: string, size: number, offset: number, length: number, what: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new CheckpointError(path, `${what}: invalid byte range (offset ${offset}, length ${length})`);
  }
  if (offset + length > size) {
    throw new CheckpointError(
      path,
      `${what}: needs bytes ${offset}..${offset + length} but the file has only ${size} bytes (truncated or corrupt)`,
    );
  }
}

/** A ByteSource over bytes already in memory (tests, small files). */
export function bufferSource(bytes: Uint8Array, path: string): ByteSource {
  return {
    path,
    size: bytes.length,
    async read(offset, length, what) {
      checkRange(path, bytes.length, offset, length, what);
      return bytes.subarray(offset, offset + length);
    },
  };
}

/** An open file as a ByteSource. Call `close()` when done. */
export interface FileSource extends ByteSource {
  close(): Promise<void>;
}

export async function openFileSource(path: string): Promise<FileSource> {
  let fh: FileHandle;
  try {
    // Check first: opening a FIFO for reading would block until someone writes to it.
    if (!(await stat(path)).isFile()) throw new CheckpointError(path, 'not a regular file');
    fh = await open(path, 'r');
  } catch (err) {
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(path, `cannot open: ${(err as Error).message}`, { cause: err });
  }
  let size: number;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new CheckpointError(path, 'not a regular file');
    size = st.size;
  } catch (err) {
    await fh.close();
    if (err instanceof CheckpointError) throw err;
    throw new CheckpointError(path, `cannot stat: ${(err as Error).message}`, { cause: err });
  }
  return {
    path,
    size,
    async read(offset, length, what) {
      checkRange(path, size, offset, length, what);
      const out = new Uint8Array(length);
      let done = 0;
      // One fs read is capped (2 GiB), so large storages are read in slices.
      while (done < length) {
        const chunk = Math.min(length - done, 1 << 30);
        const { bytesRead } = await fh.read(out, done, chunk, offset + done);
        if (bytesRead === 0) {
          throw new CheckpointError(
            path,
            `${what}: file ended at byte ${offset + done} (changed while reading?)`,
          );
        }
        done += bytesRead;
      }
      return out;
    },
    close: () => fh.close(),
  };
}
