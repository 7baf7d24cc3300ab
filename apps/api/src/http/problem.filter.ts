import { Catch, HttpException, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { classifyRedisFailure } from '@gooseherd/store';
import { RedisConnections } from '../infrastructure/redis-connections.js';
import type { Logger } from '../observability/logger.js';
import { LOGGER } from '../tokens.js';
import type { ApiRequest, ApiResponse } from './api-request.js';
import { ProblemException, Problems, redisUnavailableProblem, sendProblem } from './problem.js';

/**
 * Every error leaves as application/problem+json. Redis outages become 503; anything unexpected becomes a
 * 500 whose details go to the log only, never to the client.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(RedisConnections) private readonly redis: RedisConnections,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const req = host.switchToHttp().getRequest<ApiRequest>();
    const res = host.switchToHttp().getResponse<ApiResponse>();
    sendProblem(res, this.toProblem(error, req));
  }

  private toProblem(error: unknown, req: ApiRequest): ProblemException {
    if (error instanceof ProblemException) return error;
    if (error instanceof HttpException) {
      const status = error.getStatus();
      const detail = status === 404 ? `no route ${req.method} ${req.originalUrl.split('?')[0]}` : undefined;
      return Problems.http(status, STATUS_CODES[status] ?? 'Error', detail);
    }
    const failure = classifyRedisFailure(error);
    if (failure.kind !== 'error' || !this.redis.allReady()) {
      this.logger.warn(
        { err: (error as Error)?.message, reason: failure.reason, url: req.originalUrl },
        'request failed: redis unavailable',
      );
      return failure.kind === 'error' ? Problems.unavailable() : redisUnavailableProblem(failure);
    }
    this.logger.error({ err: error, method: req.method, url: req.originalUrl }, 'unhandled error');
    return Problems.internal();
  }
}
