import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import type { Env } from '@gooseherd/contracts';
import { ApiKeyAuthenticator } from './auth/api-key-authenticator.js';
import { AgentsController } from './controllers/agents.controller.js';
import { HealthController } from './controllers/health.controller.js';
import { TaskEventsController } from './controllers/task-events.controller.js';
import { TasksController } from './controllers/tasks.controller.js';
import { SseStreams } from './events/sse-streams.js';
import { ApiKeyMiddleware } from './http/api-key.middleware.js';
import { JsonBodyMiddleware } from './http/json-body.middleware.js';
import { ProblemFilter } from './http/problem.filter.js';
import { RateLimitMiddleware } from './http/rate-limit.middleware.js';
import { InfrastructureModule } from './infrastructure/infrastructure.module.js';
import type { Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { FailedAuthLimiter } from './auth/failed-auth-limiter.js';
import { StreamBudget } from './events/stream-budget.js';
import { ErrorFrameFilter } from './ws/error-frame.filter.js';
import { EventSocketGateway } from './ws/event-socket.gateway.js';
import { FrameTurnGuard } from './ws/frame-turn.guard.js';
import { SocketSessions } from './ws/socket-sessions.js';

const V1_CONTROLLERS = [AgentsController, TasksController, TaskEventsController];

@Module({})
export class AppModule implements NestModule {
  static forRoot(env: Env, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(env, logger)],
      controllers: [...V1_CONTROLLERS, HealthController],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        ApiKeyAuthenticator,
        FailedAuthLimiter,
        Metrics,
        { provide: StreamBudget, useFactory: () => new StreamBudget() },
        SseStreams,
        SocketSessions,
        FrameTurnGuard,
        ErrorFrameFilter,
        EventSocketGateway,
      ],
    };
  }

  /** /v1 requests: authenticate, then count against the key's rate limit, then read the body. */
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(ApiKeyMiddleware, RateLimitMiddleware, JsonBodyMiddleware).forRoutes(...V1_CONTROLLERS);
  }
}
