import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from 'pino';
import type { SegmentQueue } from '@gooseherd/queue';
import type { WorkerStore } from '@gooseherd/store';
import { LOGGER, SEGMENT_QUEUE, WORKER_STORE } from './tokens.js';

const INTERVAL_MS = 5000;

/**
 * Re-enqueues segments that the store says are scheduled but that have no job: a process died between
 * committing a change in the store and adding its job. Job ids are deterministic, so racing the process
 * that is about to add the same job is harmless, and a job that runs twice finds itself stale.
 */
@Injectable()
export class ReconcilerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(
    @Inject(WORKER_STORE) private readonly store: WorkerStore,
    @Inject(SEGMENT_QUEUE) private readonly queue: SegmentQueue,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.reconcile(), INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async reconcile(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let repaired = 0;
    try {
      for await (const job of this.store.scheduledSegments()) {
        if (await this.queue.exists(job)) continue;
        await this.queue.enqueue(job);
        repaired++;
      }
      if (repaired) this.log.info({ repaired }, 're-enqueued segments that had no job');
    } catch {
      // Redis away: try again next round.
    } finally {
      this.running = false;
    }
    return repaired;
  }
}
