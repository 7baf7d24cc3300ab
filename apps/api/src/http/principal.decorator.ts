import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '../auth/api-key-authenticator.js';
import type { ApiRequest } from './api-request.js';
import { Problems } from './problem.js';

/** The authenticated caller of a /v1 route (set by ApiKeyMiddleware). */
export const CurrentPrincipal = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<ApiRequest>().principal;
  if (!principal) throw Problems.unauthorized();
  return principal;
});
