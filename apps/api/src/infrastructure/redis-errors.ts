/** ioredis failures that mean "Redis is unreachable right now" (→ 503), not a bug (→ 500). */
const UNREACHABLE =
  /Stream isn't writeable|enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EPIPE|EHOSTUNREACH|connect ETIMEDOUT|Reached the max retries|not ready|LOADING|READONLY/;

export function isRedisUnavailableError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'MaxRetriesPerRequestError' || UNREACHABLE.test(error.message);
}
