/**
 * The one way a wait is bounded, in the services and in the tests alike: settles like `promise`, or rejects
 * after `timeoutMs` with the error `onTimeout` makes. The timer is cleared either way.
 */
export async function withDeadline<T>(
  promise: Promise<T>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
