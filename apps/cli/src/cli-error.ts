/** An error meant for the person at the terminal: printed as one line, exit code 1, no stack trace. */
export class CliError extends Error {
  override name = 'CliError';
}

/** Errors from our own modules carry messages written for users; anything else gets a short prefix. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const file = (err as NodeJS.ErrnoException).path;
    if (code === 'ENOENT' && file) return `${file}: no such file`;
    if (code === 'EACCES' && file) return `${file}: permission denied`;
    if (code === 'EISDIR' && file) return `${file}: is a directory, expected a file`;
    return err.message;
  }
  return String(err);
}

/** Wraps a command action: any failure prints `gooseherd: <message>` on stderr and exits 1. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`gooseherd: ${describeError(err)}\n`);
      if (process.env.GOOSEHERD_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
      process.exitCode = 1;
    }
  };
}
