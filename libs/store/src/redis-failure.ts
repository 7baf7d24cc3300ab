/**
 * What a failed Redis command means for its caller, decided in one place for the API and the worker alike:
 *
 * - `unavailable`: Redis could not be reached or the connection broke (refused, reset, timed out, ioredis gave up
 *   on the command). Nothing is wrong with the request; try again once Redis is back.
 * - `retry-later`: Redis answered, but cannot serve this command now: it is loading its data set, is a replica
 *   or lost its master, is out of memory under `noeviction`, is busy running a script, cannot persist, or the
 *   cluster is reconfiguring. The same command will succeed later, without change.
 * - `error`: anything else (a wrong type, a script bug, a refused password, an error that is not Redis's): a
 *   bug or misconfiguration that retrying will not fix.
 *
 * The API answers 503 (with `Retry-After`) for the first two and 500 for the third; the worker retries a
 * segment with backoff for the first two and counts the third as a failed attempt.
 */
import { withDeadline } from '@gooseherd/contracts';

export type RedisFailureKind = 'unavailable' | 'retry-later' | 'error';

export interface RedisFailure {
  kind: RedisFailureKind;
  /** The error code that decided it (`ECONNREFUSED`, `OOM`, `MaxRetriesPerRequestError`, …), or `other`. */
  reason: string;
}

/** Socket errors (Node's `error.code`) that mean the connection to Redis is gone or never came up. */
const SOCKET_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
];

/** ioredis's own errors, by `error.name`, when it gives up on a command or on the whole cluster. */
const IOREDIS_ERROR_NAMES = ['MaxRetriesPerRequestError', 'ClusterAllFailedError'];

/** ioredis's messages for a command it could not send or whose connection closed before the reply. */
const IOREDIS_MESSAGES: [RegExp, string][] = [
  [/Connection is closed/, 'connection-closed'],
  [/Stream isn't writeable/, 'stream-not-writeable'],
  [/enableOfflineQueue options is false/, 'offline'],
  [/Command timed out/, 'command-timeout'],
  [/Reached the max retries per request/, 'MaxRetriesPerRequestError'],
  [/Failed to refresh slots cache|None of startup nodes is available/, 'ClusterAllFailedError'],
];

/**
 * Redis error replies (the first word of the reply) that say "not now": see the module comment. `BUSY` is the
 * script-timeout reply; `BUSYKEY` and `BUSYGROUP` are real errors and do not match (`\b`).
 */
const RETRY_LATER_CODES = [
  'LOADING',
  'READONLY',
  'MASTERDOWN',
  'OOM',
  'BUSY',
  'MISCONF',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'NOREPLICAS',
  'UNBLOCKED',
];

/**
 * The code may open the reply (`OOM command not allowed…`, also how Redis 7 reports an error raised by
 * `redis.call` inside a script) or follow `: -` inside a wrapped script error (`ERR Error running script …:
 * -OOM command not allowed…`, Redis 6 and earlier).
 */
const RETRY_LATER_REPLY = new RegExp(`(?:^|: -)(${RETRY_LATER_CODES.join('|')})\\b`);

export function classifyRedisFailure(error: unknown, depth = 0): RedisFailure {
  if (!(error instanceof Error)) return { kind: 'error', reason: 'other' };
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && SOCKET_CODES.includes(code)) return { kind: 'unavailable', reason: code };
  if (IOREDIS_ERROR_NAMES.includes(error.name)) return { kind: 'unavailable', reason: error.name };
  // A connection error that lost its `code` on the way still names it (`connect ECONNREFUSED 127.0.0.1:1`).
  const socketCode = SOCKET_CODES.find((c) => error.message.includes(c));
  if (socketCode) return { kind: 'unavailable', reason: socketCode };
  for (const [pattern, reason] of IOREDIS_MESSAGES) {
    if (pattern.test(error.message)) return { kind: 'unavailable', reason };
  }
  const reply = RETRY_LATER_REPLY.exec(error.message);
  if (reply) return { kind: 'retry-later', reason: reply[1]! };
  // Libraries that wrap a Redis error (BullMQ does for some) keep the original as `cause`.
  if (error.cause instanceof Error && depth < 3) {
    const inner = classifyRedisFailure(error.cause, depth + 1);
    if (inner.kind !== 'error') return inner;
  }
  return { kind: 'error', reason: 'other' };
}

/** True when the failure is Redis's state, not the request's: retry later, answer 503, never count it. */
export function isTransientRedisFailure(error: unknown): boolean {
  return classifyRedisFailure(error).kind !== 'error';
}

/**
 * Seconds a client should wait before retrying (`Retry-After`): a broken connection usually comes back within
 * a reconnect, while a Redis that is loading, full or busy needs longer.
 */
export function retryAfterSeconds(failure: RedisFailure): number {
  return failure.kind === 'retry-later' ? 5 : 1;
}

/**
 * Bounds a Redis or BullMQ call (BullMQ waits for a connection forever): past `timeoutMs` it rejects with
 * ioredis's "Command timed out" wording, which `classifyRedisFailure` reads as `unavailable`.
 */
export function withRedisDeadline<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  return withDeadline(
    promise,
    timeoutMs,
    () => new Error(`Command timed out: ${what} took over ${timeoutMs} ms`),
  );
}
