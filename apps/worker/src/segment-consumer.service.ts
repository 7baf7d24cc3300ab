import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { Env } from '@gooseherd/contracts';
import { SegmentConsumer, type SegmentRun } from '@gooseherd/queue';
import { workerName } from './worker-name.js';
import type { SegmentRunner } from './segment-runner.js';
import type { TaskRegistry } from './task-registry.js';
import { ENV, LOGGER, REDIS, REGISTRY, RUNNER } from './tokens.js';

/**
 * Owns the BullMQ consumer: starts it once the model is loaded, and on shutdown drains it: no new segments
 * are taken, running ones checkpoint and yield at their next token, and the process exits within
 * GOOSEHERD_DRAIN_MS. Their agents continue on other workers.
 */
@Injectable()
export class SegmentConsumerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumer: SegmentConsumer | undefined;
  private connection: Redis | undefined;

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(RUNNER) private readonly runner: SegmentRunner,
    @Inject(REGISTRY) private readonly registry: TaskRegistry,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.connection = this.redis.duplicate();
    this.consumer = new SegmentConsumer(
      this.connection,
      {
        prefix: this.env.GOOSEHERD_REDIS_PREFIX,
        concurrency: this.env.GOOSEHERD_WORKER_CONCURRENCY,
        lockMs: this.env.GOOSEHERD_LEASE_MS,
        name: workerName(this.env),
        onError: (err) => this.log.warn({ err: err.message }, 'queue consumer error'),
      },
      (run) => this.process(run),
    );
    this.consumer.start();
    this.log.info({ concurrency: this.env.GOOSEHERD_WORKER_CONCURRENCY }, 'taking work');
  }

  /**
   * Runs one segment. It throws when Redis is away or not serving now (BullMQ retries the segment with
   * backoff, for as long as it takes) and on a task's fault below its limit (the runner logs and counts it).
   */
  private async process(run: SegmentRun): Promise<void> {
    await this.runner.run(run.job, run.lock);
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (!this.consumer) return;
    this.log.info({ signal, running: this.registry.size }, 'draining');
    this.registry.drain();
    const margin = Math.min(1000, this.env.GOOSEHERD_DRAIN_MS / 4);
    const deadline = new Promise<'timeout'>((r) =>
      setTimeout(r, this.env.GOOSEHERD_DRAIN_MS - margin, 'timeout').unref(),
    );
    const outcome = await Promise.race([this.consumer.drain().then(() => 'drained' as const), deadline]);
    if (outcome === 'timeout') {
      this.log.warn('drain deadline reached; leaving the remaining segments to the lease timeout');
      await this.consumer.close().catch(() => undefined);
    } else {
      this.log.info('drained');
    }
    this.connection?.disconnect();
  }
}
