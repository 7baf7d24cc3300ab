import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { classifyRedisFailure } from '@gooseherd/store';
import { ApiKeyAuthenticator, bearerToken } from '../auth/api-key-authenticator.js';
import type { Logger } from '../observability/logger.js';
import { LOGGER } from '../tokens.js';
import type { ApiRequest, ApiResponse, Next } from './api-request.js';
import { Problems, redisUnavailableProblem, sendProblem } from './problem.js';

/** Every /v1 request carries `Authorization: Bearer <key>`; sets `req.principal` or answers 401. */
@Injectable()
export class ApiKeyMiddleware implements NestMiddleware {
  constructor(
    @Inject(ApiKeyAuthenticator) private readonly auth: ApiKeyAuthenticator,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async use(req: ApiRequest, res: ApiResponse, next: Next): Promise<void> {
    const token = bearerToken(req.headers.authorization);
    if (!token) return sendProblem(res, Problems.unauthorized());
    try {
      const principal = await this.auth.authenticate(token);
      if (!principal) return sendProblem(res, Problems.unauthorized('unknown API key'));
      req.principal = principal;
    } catch (error) {
      const failure = classifyRedisFailure(error);
      if (failure.kind !== 'error') return sendProblem(res, redisUnavailableProblem(failure));
      this.logger.error({ err: error }, 'authentication failed');
      return sendProblem(res, Problems.internal());
    }
    next();
  }
}
