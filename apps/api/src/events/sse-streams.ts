import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { FINAL_EVENT_KINDS, type TaskEvent } from '@gooseherd/contracts';
import type { EventFeed } from '@gooseherd/store';
import type { ApiResponse } from '../http/api-request.js';
import { Metrics } from '../observability/metrics.js';
import { EVENT_FEED } from '../tokens.js';

const HEARTBEAT_MS = 15_000;
/** Browsers' EventSource waits this long before reconnecting (with Last-Event-ID). */
const RETRY_MS = 2_000;

/**
 * Streams one task's events as Server-Sent Events: what is stored after `after`, then live, through the
 * event feed (gap-free). Ends after the final event, on client disconnect, or at shutdown.
 */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  private readonly open = new Set<() => void>();

  constructor(
    @Inject(EVENT_FEED) private readonly feed: EventFeed,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  /** `finished`: the task is final and has no events after `after`, so the stream ends at once. */
  stream(res: ApiResponse, taskId: string, after: number, finished: boolean): void {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    if (finished) {
      res.end();
      return;
    }
    this.metrics.sseStreams.inc();
    let last = after;
    const follower = { stop: (): void => undefined };
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    const close = () => {
      if (!this.open.delete(close)) return;
      clearInterval(heartbeat);
      follower.stop();
      this.metrics.sseStreams.dec();
      res.end();
    };
    this.open.add(close);
    res.once('close', close);
    follower.stop = this.feed.followTask(taskId, after, (event: TaskEvent) => {
      if (event.seq <= last || !this.open.has(close)) return;
      last = event.seq;
      res.write(`id: ${event.seq}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`);
      if (FINAL_EVENT_KINDS.includes(event.kind)) close();
    });
    // The follower may have delivered a final event synchronously, before follower.stop was assigned.
    if (!this.open.has(close)) follower.stop();
  }

  onModuleDestroy(): void {
    for (const close of [...this.open]) close();
  }
}
