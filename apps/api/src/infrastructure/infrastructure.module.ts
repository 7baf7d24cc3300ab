import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Env } from '@gooseherd/contracts';
import { SegmentQueue, type SegmentProducer } from '@gooseherd/queue';
import {
  RedisEventFeed,
  RedisStore,
  withRedisDeadline,
  type ApiStore,
  type EventFeed,
} from '@gooseherd/store';
import { SharedEventFeed } from '../events/shared-event-feed.js';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { Logger } from '../observability/logger.js';
import { AUTH_FAILURE_LIMITS } from '../auth/failed-auth-limiter.js';
import {
  API_STORE,
  AUTH_FAILURE_LIMITER,
  ENV,
  EVENT_FEED,
  LOGGER,
  RATE_LIMITER,
  SEGMENT_PRODUCER,
} from '../tokens.js';
import { RedisConnections } from './redis-connections.js';

const STARTUP_WAIT_MS = 3_000;

/**
 * Start-up waits briefly for Redis so the first requests do not meet half-open clients; shutdown closes
 * the adapters, then the connections, after the HTTP server stopped.
 */
class InfrastructureLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(EVENT_FEED) private readonly feed: EventFeed,
    @Inject(SEGMENT_PRODUCER) private readonly producer: SegmentProducer,
    @Inject(RedisConnections) private readonly connections: RedisConnections,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!(await this.connections.waitUntilReady(STARTUP_WAIT_MS))) {
      this.logger.warn(
        { waitedMs: STARTUP_WAIT_MS },
        'redis not reachable at start-up; serving 503 until it is',
      );
    }
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    this.logger.info({ signal }, 'api shutting down: closing queue, event feed and redis');
    // BullMQ waits for a connection forever; with Redis away there is nothing to flush anyway.
    await Promise.allSettled([
      this.feed.close(),
      withRedisDeadline(this.producer.close(), 1_000, 'queue close'),
    ]);
    await this.connections.close();
  }
}

/**
 * The one place that knows the store, feed, queue and rate limiter are Redis: every other provider
 * injects them by token, as interfaces.
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(env: Env, logger: Logger): DynamicModule {
    const prefix = env.GOOSEHERD_REDIS_PREFIX;
    return {
      module: InfrastructureModule,
      providers: [
        { provide: ENV, useValue: env },
        { provide: LOGGER, useValue: logger },
        { provide: RedisConnections, useFactory: () => new RedisConnections(env.REDIS_URL, logger) },
        {
          provide: API_STORE,
          inject: [RedisConnections],
          useFactory: (c: RedisConnections) =>
            new RedisStore(c.store, { prefix, taskTtlSeconds: env.GOOSEHERD_TASK_TTL_S }),
        },
        {
          // One upstream follower per log on this instance, shared by all of that log's clients.
          provide: EVENT_FEED,
          inject: [RedisConnections, API_STORE],
          useFactory: (c: RedisConnections, store: ApiStore) =>
            new SharedEventFeed(new RedisEventFeed(c.feedSubscriber, c.feedReader, { prefix }), store),
        },
        {
          provide: SEGMENT_PRODUCER,
          inject: [RedisConnections],
          useFactory: (c: RedisConnections) => new SegmentQueue(c.queue, { prefix }),
        },
        {
          provide: RATE_LIMITER,
          inject: [RedisConnections],
          useFactory: (c: RedisConnections) =>
            new RateLimiterRedis({
              storeClient: c.store,
              keyPrefix: `${prefix}:ratelimit`,
              points: env.GOOSEHERD_RATE_LIMIT,
              duration: env.GOOSEHERD_RATE_WINDOW_S,
              rejectIfRedisNotReady: true,
            }),
        },
        {
          provide: AUTH_FAILURE_LIMITER,
          inject: [RedisConnections],
          useFactory: (c: RedisConnections) =>
            new RateLimiterRedis({
              storeClient: c.store,
              keyPrefix: `${prefix}:authfail`,
              points: AUTH_FAILURE_LIMITS.failures,
              duration: AUTH_FAILURE_LIMITS.windowS,
              rejectIfRedisNotReady: true,
            }),
        },
        InfrastructureLifecycle,
      ],
      exports: [
        ENV,
        LOGGER,
        RedisConnections,
        API_STORE,
        EVENT_FEED,
        SEGMENT_PRODUCER,
        RATE_LIMITER,
        AUTH_FAILURE_LIMITER,
      ],
    };
  }
}
