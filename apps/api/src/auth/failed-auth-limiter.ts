import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AUTH_FAILURE_LIMITER } from '../tokens.js';

/** Failed authentications one client address may make per window (REST and WebSocket together). */
export const AUTH_FAILURE_LIMITS = Object.freeze({ failures: 100, windowS: 60 });

const MAX_BLOCKED_ADDRESSES = 100_000;

/**
 * Rate-limits failed authentications per client address. Failures are counted in Redis (shared by every API
 * instance); an address past the limit is remembered here until its window ends and is then refused before its
 * key is even looked at, so a correct key found by guessing is refused too. The address is the TCP peer's:
 * behind a proxy that is the proxy's, so put the proxy's own limit in front of it.
 */
@Injectable()
export class FailedAuthLimiter {
  private readonly blockedUntil = new Map<string, number>();

  constructor(@Inject(AUTH_FAILURE_LIMITER) private readonly limiter: RateLimiterAbstract) {}

  /** Seconds until the address may try again, or undefined when it is not blocked. */
  blockedFor(address: string): number | undefined {
    const until = this.blockedUntil.get(address);
    if (until === undefined) return undefined;
    const left = until - Date.now();
    if (left > 0) return Math.max(1, Math.ceil(left / 1000));
    this.blockedUntil.delete(address);
    return undefined;
  }

  /**
   * Counts one failure. Resolves with the seconds the address is now blocked for, or undefined while it is
   * within the limit; rejects when Redis cannot count it (the caller answers 503: failures are not let through
   * uncounted).
   */
  async recordFailure(address: string): Promise<number | undefined> {
    try {
      await this.limiter.consume(address);
      return undefined;
    } catch (outcome) {
      if (!(outcome instanceof RateLimiterRes)) throw outcome;
      if (this.blockedUntil.size >= MAX_BLOCKED_ADDRESSES) this.blockedUntil.clear();
      this.blockedUntil.set(address, Date.now() + outcome.msBeforeNext);
      return Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
    }
  }
}
