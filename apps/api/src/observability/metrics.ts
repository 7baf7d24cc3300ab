import { Inject, Injectable } from '@nestjs/common';
import type { SegmentProducer } from '@gooseherd/queue';
import { withRedisDeadline } from '@gooseherd/store';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SEGMENT_PRODUCER } from '../tokens.js';

/** How long a scrape may reuse the queue depth read from Redis. */
export const QUEUE_GAUGE_TTL_MS = 1_500;

/** The API's Prometheus metrics, in a registry of its own (several apps can share a process in tests). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'gooseherd_http_request_duration_seconds',
    help: 'HTTP request duration by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly wsConnections = new Gauge({
    name: 'gooseherd_ws_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  readonly wsSubscriptions = new Gauge({
    name: 'gooseherd_ws_subscriptions',
    help: 'Active WebSocket subscriptions (task and agent)',
    registers: [this.registry],
  });
  readonly wsFramesRejected = new Counter({
    name: 'gooseherd_ws_frames_rejected_total',
    help: 'Client frames answered with an error frame, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly sseStreams = new Gauge({
    name: 'gooseherd_sse_streams',
    help: 'Open Server-Sent Events streams',
    registers: [this.registry],
  });

  constructor(@Inject(SEGMENT_PRODUCER) producer: SegmentProducer) {
    collectDefaultMetrics({ register: this.registry, prefix: 'gooseherd_api_' });
    // Scrapes are answered from a value at most QUEUE_GAUGE_TTL_MS old: any number of scrapers (or a hostile
    // client: /metrics needs no key) cost Redis at most one query per TTL, and concurrent scrapes share it.
    let waiting: { at: number; read: Promise<number | undefined> } | undefined;
    const waitingCount = (): Promise<number | undefined> => {
      if (!waiting || Date.now() - waiting.at >= QUEUE_GAUGE_TTL_MS) {
        waiting = {
          at: Date.now(),
          read: withRedisDeadline(producer.waitingCount(), 500, 'queue waiting count').catch(() => undefined),
        };
      }
      return waiting.read;
    };
    new Gauge({
      name: 'gooseherd_queue_waiting_jobs',
      help: `Agent segments waiting for a worker (all tenants), at most ${QUEUE_GAUGE_TTL_MS} ms old; absent while Redis is unreachable`,
      registers: [this.registry],
      async collect() {
        const count = await waitingCount();
        if (count === undefined) this.reset();
        else this.set(count);
      },
    });
  }
}
