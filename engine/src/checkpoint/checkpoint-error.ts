/**
 * The one error type every checkpoint failure surfaces as. The message always starts with the file
 * path, so a log line alone says which file is broken and how.
 */
export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';

  constructor(
    /** The file that could not be loaded or written. */
    readonly filePath: string,
    /** What is wrong, without the path. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${filePath}: ${detail}`, options);
  }
}

/** Wraps anything thrown while handling `filePath` into a CheckpointError (kept as is if it already is one). */
export function asCheckpointError(filePath: string, err: unknown, what: string): CheckpointError {
  if (err instanceof CheckpointError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new CheckpointError(filePath, `${what}: ${msg}`, { cause: err });
}
