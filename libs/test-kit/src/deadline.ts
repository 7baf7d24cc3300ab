import { withDeadline as withDeadlineOr } from '@gooseherd/contracts';

/** How a wait is bounded and described: `what` completes the sentence "timed out waiting for …". */
export interface WaitOptions {
  timeoutMs: number;
  what: string;
  /** Pause between probes; default 50 ms. */
  intervalMs?: number;
}

/** A wait that reached its deadline; the message names what was awaited and what was last seen. */
export class DeadlineError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
    readonly lastSeen: string,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}${lastSeen ? `; last seen: ${lastSeen}` : ''}`);
    this.name = 'DeadlineError';
  }
}

/** Thrown by a probe to end a wait at once (the awaited state can no longer come), with this message. */
export class StopWaiting extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StopWaiting';
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Falsy = undefined | null | false;

/**
 * Calls `probe` until it returns something other than undefined, null or false, and returns that. The probe
 * may pass what it saw to `seen`; the last such value is named when the deadline passes. A probe that throws
 * counts as "not yet" (Redis or the API may be restarting) and its error is reported the same way, except
 * StopWaiting, which ends the wait at once. The
 * deadline is checked after every probe, so a wait outlives `timeoutMs` by at most one probe.
 */
export async function waitFor<T>(
  probe: (seen: (value: unknown) => void) => T | Falsy | Promise<T | Falsy>,
  options: WaitOptions,
): Promise<T> {
  const { timeoutMs, what, intervalMs = 50 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastSeen = '';
  const seen = (value: unknown) => {
    lastSeen = describeValue(value);
  };
  for (;;) {
    try {
      const value = await probe(seen);
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      if (err instanceof StopWaiting) throw err;
      lastSeen = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    }
    const left = deadline - Date.now();
    if (left <= 0) throw new DeadlineError(what, timeoutMs, lastSeen);
    await sleep(Math.min(intervalMs, left));
  }
}

/** Settles like `promise`, or rejects with a DeadlineError naming `what` after `timeoutMs`. */
export function withDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return withDeadlineOr(promise, timeoutMs, () => new DeadlineError(what, timeoutMs, ''));
}

/** Short description of a value for failure messages. */
export function describeValue(value: unknown, maxChars = 300): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text;
}
