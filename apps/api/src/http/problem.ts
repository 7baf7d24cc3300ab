import type { ServerResponse } from 'node:http';
import type { ProblemDetails } from '@gooseherd/contracts';
import { retryAfterSeconds, type RedisFailure } from '@gooseherd/store';

/** 503 for a Redis failure that is Redis's state, not the request's (see `classifyRedisFailure`). */
export function redisUnavailableProblem(failure: RedisFailure): ProblemException {
  const detail =
    failure.kind === 'retry-later'
      ? `the state store cannot serve this now (${failure.reason}); retry later`
      : undefined;
  return Problems.unavailable(detail, retryAfterSeconds(failure));
}

export type FieldError = { field: string; message: string };

const TYPE_BASE = 'urn:gooseherd:problem:';

/** Thrown anywhere in request handling; the problem filter (or a middleware) writes it as problem+json. */
export class ProblemException extends Error {
  constructor(
    readonly problem: ProblemDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.detail ?? problem.title);
    this.name = 'ProblemException';
  }
}

/** The one builder of a problem+json body (`type` is `urn:gooseherd:problem:<slug>`). */
export function problem(
  status: number,
  slug: string,
  title: string,
  detail?: string,
  errors?: FieldError[],
): ProblemDetails {
  const body: ProblemDetails = { type: TYPE_BASE + slug, title, status };
  if (detail !== undefined) body.detail = detail;
  if (errors !== undefined) body.errors = errors;
  return body;
}

/** The problems this API answers with; one place, so types and titles stay consistent. */
export const Problems = {
  validation: (errors: FieldError[], detail = 'the request has invalid fields') =>
    new ProblemException(problem(400, 'validation', 'Invalid request', detail, errors)),
  malformedBody: (detail: string) =>
    new ProblemException(
      problem(400, 'malformed-body', 'Malformed request body', detail, [{ field: 'body', message: detail }]),
    ),
  unauthorized: (detail = 'send Authorization: Bearer <api key>') =>
    new ProblemException(problem(401, 'unauthorized', 'Unauthorized', detail), {
      'WWW-Authenticate': 'Bearer',
    }),
  notFound: (detail: string) => new ProblemException(problem(404, 'not-found', 'Not found', detail)),
  agentLimit: (limit: number) =>
    new ProblemException(
      problem(
        409,
        'agent-limit',
        'Agent limit reached',
        `this tenant already holds the maximum of ${limit} agents`,
      ),
    ),
  payloadTooLarge: (limit: number) =>
    new ProblemException(
      problem(413, 'payload-too-large', 'Payload too large', `bodies are limited to ${limit} bytes`),
    ),
  unsupportedMediaType: (detail: string) =>
    new ProblemException(problem(415, 'unsupported-media-type', 'Unsupported media type', detail)),
  unprocessable: (field: string, message: string) =>
    new ProblemException(
      problem(422, 'unprocessable', 'Unprocessable request', message, [{ field, message }]),
    ),
  rateLimited: (retryAfterS: number) =>
    new ProblemException(
      problem(429, 'rate-limited', 'Too many requests', `rate limit exceeded; retry after ${retryAfterS} s`),
      { 'Retry-After': String(retryAfterS) },
    ),
  tooManyFailedAuthentications: (retryAfterS: number) =>
    new ProblemException(
      problem(
        429,
        'too-many-failed-authentications',
        'Too many failed authentications',
        `too many failed authentications from this address; retry after ${retryAfterS} s`,
      ),
      { 'Retry-After': String(retryAfterS) },
    ),
  tooManySubscriptions: (limit: number) =>
    new ProblemException(
      problem(
        429,
        'too-many-subscriptions',
        'Too many subscriptions',
        `this API key already holds the maximum of ${limit} event streams on this server`,
      ),
    ),
  replayLimited: (retryAfterS: number) =>
    new ProblemException(
      problem(
        429,
        'replay-limited',
        'Replay limit reached',
        `this API key replayed its budget of stored events; retry after ${retryAfterS} s`,
      ),
      { 'Retry-After': String(retryAfterS) },
    ),
  unavailable: (detail = 'the state store is unreachable; retry shortly', retryAfterS = 1) =>
    new ProblemException(problem(503, 'unavailable', 'Service unavailable', detail), {
      'Retry-After': String(retryAfterS),
    }),
  internal: () =>
    new ProblemException(
      problem(500, 'internal', 'Internal server error', 'the error was logged on the server'),
    ),
  /** Any other HTTP status Nest itself raises (unknown route, method). */
  http: (status: number, title: string, detail?: string) =>
    new ProblemException(problem(status, 'http', title, detail)),
};

/** Writes a problem straight to a Node response: used by the filter and by middleware outside Nest's routing. */
export function sendProblem(res: ServerResponse, error: ProblemException): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(error.problem);
  res.statusCode = error.problem.status;
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'application/problem+json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
