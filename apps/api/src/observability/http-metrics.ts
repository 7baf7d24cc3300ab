import type { ApiRequest, ApiResponse, Next } from '../http/api-request.js';
import type { Metrics } from './metrics.js';

/** Route templates for requests answered before routing (401, 429, 413…), so labels stay bounded. */
const TEMPLATES: [RegExp, string][] = [
  [/^\/v1\/agents\/?$/, '/v1/agents'],
  [/^\/v1\/agents\/[^/]+\/?$/, '/v1/agents/:id'],
  [/^\/v1\/agents\/[^/]+\/tasks\/?$/, '/v1/agents/:id/tasks'],
  [/^\/v1\/agents\/[^/]+\/fork\/?$/, '/v1/agents/:id/fork'],
  [/^\/v1\/tasks\/[^/]+\/?$/, '/v1/tasks/:id'],
  [/^\/v1\/tasks\/[^/]+\/cancel\/?$/, '/v1/tasks/:id/cancel'],
  [/^\/v1\/tasks\/[^/]+\/events\/?$/, '/v1/tasks/:id/events'],
  [/^\/docs(\/.*)?$/, '/docs'],
];

function routeOf(req: ApiRequest): string {
  // Nest's middleware layers report their mount path with a trailing slash ('/v1/agents/').
  if (req.route?.path) return req.route.path.length > 1 ? req.route.path.replace(/\/+$/, '') : req.route.path;
  const path = req.originalUrl.split('?')[0];
  return TEMPLATES.find(([pattern]) => pattern.test(path))?.[1] ?? 'unmatched';
}

/** Express middleware timing every request, labelled by route template and status. */
export function httpMetricsMiddleware(metrics: Metrics) {
  return (req: ApiRequest, res: ApiResponse, next: Next): void => {
    const stop = metrics.httpDuration.startTimer();
    res.once('close', () =>
      stop({ method: req.method, route: routeOf(req), status: String(res.statusCode) }),
    );
    next();
  };
}
