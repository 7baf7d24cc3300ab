import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { ApiKeyAuthenticator, bearerToken } from '../auth/api-key-authenticator.js';
import { FailedAuthLimiter } from '../auth/failed-auth-limiter.js';
import type { ApiRequest, ApiResponse, Next } from './api-request.js';
import { Problems, sendProblem } from './problem.js';

/**
 * Every /v1 request carries `Authorization: Bearer <key>`; sets `req.principal` or answers 401. A client
 * address past the failed-authentication limit gets 429 with Retry-After, whatever key it sends.
 */
@Injectable()
export class ApiKeyMiddleware implements NestMiddleware {
  constructor(
    @Inject(ApiKeyAuthenticator) private readonly auth: ApiKeyAuthenticator,
    @Inject(FailedAuthLimiter) private readonly failures: FailedAuthLimiter,
  ) {}

  async use(req: ApiRequest, res: ApiResponse, next: Next): Promise<void> {
    const address = req.socket.remoteAddress ?? 'unknown';
    const blocked = this.failures.blockedFor(address);
    if (blocked !== undefined) return sendProblem(res, Problems.tooManyFailedAuthentications(blocked));
    const token = bearerToken(req.headers.authorization);
    const principal = token === undefined ? undefined : this.auth.authenticate(token);
    if (principal) {
      req.principal = principal;
      return next();
    }
    let blockedNow: number | undefined;
    try {
      blockedNow = await this.failures.recordFailure(address);
    } catch {
      return sendProblem(res, Problems.unavailable());
    }
    if (blockedNow !== undefined) return sendProblem(res, Problems.tooManyFailedAuthentications(blockedNow));
    sendProblem(
      res,
      token === undefined ? Problems.unauthorized() : Problems.unauthorized('unknown API key'),
    );
  }
}
