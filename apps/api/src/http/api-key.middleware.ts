import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import { ApiKeyAuthenticator, bearerToken } from '../auth/api-key-authenticator.js';
import type { ApiRequest, ApiResponse, Next } from './api-request.js';
import { Problems, sendProblem } from './problem.js';

/** Every /v1 request carries `Authorization: Bearer <key>`; sets `req.principal` or answers 401. */
@Injectable()
export class ApiKeyMiddleware implements NestMiddleware {
  constructor(@Inject(ApiKeyAuthenticator) private readonly auth: ApiKeyAuthenticator) {}

  use(req: ApiRequest, res: ApiResponse, next: Next): void {
    const token = bearerToken(req.headers.authorization);
    if (!token) return sendProblem(res, Problems.unauthorized());
    const principal = this.auth.authenticate(token);
    if (!principal) return sendProblem(res, Problems.unauthorized('unknown API key'));
    req.principal = principal;
    next();
  }
}
