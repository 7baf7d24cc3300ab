import { Controller, Get, Header, Inject } from '@nestjs/common';
import { withRedisDeadline, type ApiStore } from '@gooseherd/store';
import { Problems } from '../http/problem.js';
import { Metrics } from '../observability/metrics.js';
import { API_STORE } from '../tokens.js';

const READY_TIMEOUT_MS = 1_000;

/** Probes and metrics: no API key (they reveal no tenant data). */
@Controller()
export class HealthController {
  constructor(
    @Inject(API_STORE) private readonly store: ApiStore,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  /** Liveness: the process is up and serving. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: Redis answers. */
  @Get('readyz')
  async readyz(): Promise<{ status: 'ready' }> {
    try {
      await withRedisDeadline(this.store.ping(), READY_TIMEOUT_MS, 'ping');
    } catch {
      throw Problems.unavailable('Redis is unreachable');
    }
    return { status: 'ready' };
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async prometheus(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
