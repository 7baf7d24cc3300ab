import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Worker } from 'bullmq';
import type Redis from 'ioredis';
import type { Logger } from 'pino';
import type { AgentSegmentJob, Env } from '@gooseherd/contracts';
import { createSegmentConsumer, type SegmentLock } from '@gooseherd/queue';
import { isTransientRedisFailure } from '@gooseherd/store';
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
  private worker: Worker<AgentSegmentJob> | undefined;
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
    const worker = createSegmentConsumer(
      this.connection,
      {
        prefix: this.env.GOOSEHERD_REDIS_PREFIX,
        concurrency: this.env.GOOSEHERD_WORKER_CONCURRENCY,
        lockMs: this.env.GOOSEHERD_LEASE_MS,
        name: workerName(this.env),
      },
      (job, lock) => this.process(job, lock),
    );
    worker.on('error', (err) => this.log.warn({ err: err.message }, 'queue consumer error'));
    this.worker = worker;
    void worker.run().catch((err: Error) => this.log.error({ err: err.message }, 'queue consumer stopped'));
    this.log.info({ concurrency: this.env.GOOSEHERD_WORKER_CONCURRENCY }, 'taking work');
  }

  private async process(job: AgentSegmentJob, lock: SegmentLock | undefined): Promise<void> {
    try {
      await this.runner.run(job, lock);
    } catch (err) {
      // Redis away or not serving now (loading, full, busy, failing over): throw, and BullMQ retries the
      // segment with backoff. Anything else is a bug; log it and let the retry (from the last checkpoint) have a go.
      if (!isTransientRedisFailure(err)) this.log.error({ err, agentId: job.agentId }, 'segment failed');
      throw err;
    }
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    if (!this.worker) return;
    this.log.info({ signal, running: this.registry.size }, 'draining');
    this.registry.draining = true;
    const margin = Math.min(1000, this.env.GOOSEHERD_DRAIN_MS / 4);
    const deadline = new Promise<'timeout'>((r) =>
      setTimeout(r, this.env.GOOSEHERD_DRAIN_MS - margin, 'timeout').unref(),
    );
    const outcome = await Promise.race([this.worker.close().then(() => 'drained' as const), deadline]);
    if (outcome === 'timeout') {
      this.log.warn('drain deadline reached; leaving the remaining segments to the lease timeout');
      await this.worker.close(true).catch(() => undefined);
    } else {
      this.log.info('drained');
    }
    this.connection?.disconnect();
  }
}
