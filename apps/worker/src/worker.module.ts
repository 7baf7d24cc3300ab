import type { Server } from 'node:http';
import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type Redis from 'ioredis';
import pino, { type Logger } from 'pino';
import { loadEnv, type Env } from '@gooseherd/contracts';
import { BatchedDecoder, loadModel, type LoadedModel } from '@gooseherd/agent-runtime';
import { SegmentQueue } from '@gooseherd/queue';
import { WorkerStore } from '@gooseherd/store';
import { CancelListenerService } from './cancel-listener.service.js';
import { ReconcilerService } from './reconciler.service.js';
import { workerRedis } from './redis-connections.js';
import { SegmentConsumerService } from './segment-consumer.service.js';
import { SegmentRunner } from './segment-runner.js';
import { TaskRegistry } from './task-registry.js';
import { workerName } from './worker-name.js';
import { serveMetrics, WorkerMetrics } from './worker-metrics.js';
import {
  DECODER,
  ENV,
  LOGGER,
  METRICS,
  MODEL,
  REDIS,
  REDIS_SUBSCRIBER,
  REGISTRY,
  RUNNER,
  SEGMENT_QUEUE,
  WORKER_STORE,
} from './tokens.js';

/** Closes what the factories opened, after the consumer has drained. */
class Connections implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(REDIS_SUBSCRIBER) private readonly subscriber: Redis,
    @Inject(SEGMENT_QUEUE) private readonly queue: SegmentQueue,
    @Inject(MODEL) private readonly model: LoadedModel,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    this.subscriber.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.model.engine.release();
  }
}

/** Serves the worker's metrics on GOOSEHERD_WORKER_METRICS_PORT (none when 0). */
@Injectable()
class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(METRICS) private readonly metrics: WorkerMetrics,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const port = this.env.GOOSEHERD_WORKER_METRICS_PORT;
    if (port === 0) return;
    this.server = await serveMetrics(this.metrics, port, '0.0.0.0');
    this.log.info({ port }, 'serving metrics');
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

@Module({
  providers: [
    { provide: ENV, useFactory: (): Env => loadEnv() },
    {
      provide: LOGGER,
      inject: [ENV],
      useFactory: (env: Env): Logger =>
        pino({ level: env.LOG_LEVEL, base: { service: 'worker', pid: process.pid } }),
    },
    {
      provide: REDIS,
      inject: [ENV, LOGGER],
      useFactory: (env: Env, log: Logger) => workerRedis(env.REDIS_URL, log, 'gooseherd-worker'),
    },
    {
      provide: REDIS_SUBSCRIBER,
      inject: [ENV, LOGGER],
      useFactory: (env: Env, log: Logger) => workerRedis(env.REDIS_URL, log, 'gooseherd-worker-sub'),
    },
    {
      provide: MODEL,
      inject: [ENV, LOGGER],
      useFactory: async (env: Env, log: Logger): Promise<LoadedModel> => {
        const started = Date.now();
        let logged = -1;
        const model = await loadModel({
          // GOOSEHERD_MODEL: pulled on first start (npm start pulls it first, with a progress bar).
          catalogueModel: env.GOOSEHERD_MODEL,
          pull: {
            endpoint: env.GOOSEHERD_HF_ENDPOINT,
            token: env.GOOSEHERD_HF_TOKEN,
            onProgress: (p) => {
              const tenth = p.total ? Math.floor((10 * p.received) / p.total) : -1;
              if (tenth !== logged)
                log.info({ file: p.file, received: p.received, total: p.total }, 'pulling model');
              logged = tenth;
            },
            onRetry: (attempt, reason, ms) => log.warn({ attempt, reason, ms }, 'model pull retry'),
          },
          modelPath: env.GOOSEHERD_MODEL_PATH,
          vocabPath: env.GOOSEHERD_VOCAB_PATH,
          modelName: env.GOOSEHERD_MODEL_NAME,
          dataDir: env.GOOSEHERD_DATA_DIR,
          weights: env.GOOSEHERD_WEIGHTS,
          threads: env.GOOSEHERD_ENGINE_THREADS,
        });
        log.info({ model: model.describe, ms: Date.now() - started }, 'model loaded');
        return model;
      },
    },
    { provide: METRICS, useFactory: () => new WorkerMetrics() },
    {
      provide: DECODER,
      inject: [ENV, MODEL, METRICS],
      useFactory: (env: Env, model: LoadedModel, metrics: WorkerMetrics) =>
        new BatchedDecoder(model.engine, {
          maxBatch: env.GOOSEHERD_WORKER_CONCURRENCY,
          observer: metrics.decoderObserver,
        }),
    },
    {
      provide: WORKER_STORE,
      inject: [ENV, REDIS],
      useFactory: (env: Env, redis: Redis) =>
        new WorkerStore(redis, {
          prefix: env.GOOSEHERD_REDIS_PREFIX,
          taskTtlSeconds: env.GOOSEHERD_TASK_TTL_S,
        }),
    },
    {
      provide: SEGMENT_QUEUE,
      inject: [ENV, REDIS],
      useFactory: (env: Env, redis: Redis) => new SegmentQueue(redis, { prefix: env.GOOSEHERD_REDIS_PREFIX }),
    },
    { provide: REGISTRY, useFactory: () => new TaskRegistry() },
    {
      provide: RUNNER,
      inject: [ENV, MODEL, DECODER, WORKER_STORE, SEGMENT_QUEUE, REGISTRY, LOGGER, METRICS],
      useFactory: (
        env: Env,
        model: LoadedModel,
        decoder: BatchedDecoder,
        store: WorkerStore,
        queue: SegmentQueue,
        registry: TaskRegistry,
        log: Logger,
        metrics: WorkerMetrics,
      ) =>
        new SegmentRunner(
          model,
          decoder,
          store,
          queue,
          registry,
          {
            workerName: workerName(env),
            checkpointTokens: env.GOOSEHERD_CHECKPOINT_TOKENS,
            segmentTokens: env.GOOSEHERD_SEGMENT_TOKENS,
            flushMs: 15,
            prefillSlice: 256,
            maxPromptTokens: env.GOOSEHERD_MAX_PROMPT_TOKENS,
          },
          log,
          metrics,
        ),
    },
    Connections,
    MetricsServer,
    CancelListenerService,
    ReconcilerService,
    SegmentConsumerService,
  ],
})
export class WorkerModule {}
