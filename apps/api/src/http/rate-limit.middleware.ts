import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { Env } from '@gooseherd/contracts';
import { classifyRedisFailure } from '@gooseherd/store';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { ENV, RATE_LIMITER } from '../tokens.js';
import type { ApiRequest, ApiResponse, Next } from './api-request.js';
import { Problems, redisUnavailableProblem, sendProblem } from './problem.js';

/** GOOSEHERD_RATE_LIMIT requests per key per GOOSEHERD_RATE_WINDOW_S, counted in Redis across instances. */
@Injectable()
export class RateLimitMiddleware implements NestMiddleware {
  constructor(
    @Inject(RATE_LIMITER) private readonly limiter: RateLimiterAbstract,
    @Inject(ENV) private readonly env: Env,
  ) {}

  async use(req: ApiRequest, res: ApiResponse, next: Next): Promise<void> {
    const key = req.principal?.keyHash;
    if (!key) return sendProblem(res, Problems.unauthorized());
    res.setHeader('RateLimit-Limit', String(this.env.GOOSEHERD_RATE_LIMIT));
    try {
      const state = await this.limiter.consume(key);
      res.setHeader('RateLimit-Remaining', String(state.remainingPoints));
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        res.setHeader('RateLimit-Remaining', '0');
        return sendProblem(res, Problems.rateLimited(Math.max(1, Math.ceil(outcome.msBeforeNext / 1000))));
      }
      // Only Redis can make consume() throw an Error; say which kind (down, or full/loading/busy) and when to retry.
      const failure = classifyRedisFailure(outcome);
      return sendProblem(
        res,
        failure.kind === 'error' ? Problems.unavailable() : redisUnavailableProblem(failure),
      );
    }
    next();
  }
}
