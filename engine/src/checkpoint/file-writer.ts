import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { asCheckpointError } from './checkpoint-error.js';

/**
 * Sequential binary output to a temporary file that is renamed into place only when complete, so a
 * crashed write never leaves a half-written checkpoint under the real name.
 */
export class FileWriter {
  private position = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly tmpPath: string,
    readonly path: string,
  ) {}

  static async create(path: string): Promise<FileWriter> {
    const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
    try {
      return new FileWriter(await open(tmp, 'w'), tmp, path);
    } catch (err) {
      throw asCheckpointError(path, err, 'cannot create file');
    }
  }

  /** Bytes written so far (the offset of the next write). */
  get offset(): number {
    return this.position;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const n = Math.min(bytes.length - done, 1 << 30);
      const { bytesWritten } = await this.fh.write(bytes, done, n, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  async commit(): Promise<void> {
    await this.fh.close();
    await rename(this.tmpPath, this.path);
  }

  async abort(): Promise<void> {
    await this.fh.close().catch(() => undefined);
    await rm(this.tmpPath, { force: true });
  }
}

/** Runs `body` against a FileWriter, committing on success and cleaning up (as a CheckpointError) on failure. */
export async function writeFileAtomically(
  path: string,
  body: (w: FileWriter) => Promise<void>,
): Promise<void> {
  const w = await FileWriter.create(path);
  try {
    await body(w);
    await w.commit();
  } catch (err) {
    await w.abort();
    throw asCheckpointError(path, err, 'cannot write checkpoint');
  }
}
