import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { FINAL_EVENT_KINDS, type TaskEvent } from '@gooseherd/contracts';
import type { EventFeed } from '@gooseherd/store';
import type { Principal } from '../auth/api-key-authenticator.js';
import type { ApiResponse } from '../http/api-request.js';
import { Problems } from '../http/problem.js';
import { Metrics } from '../observability/metrics.js';
import { EVENT_FEED } from '../tokens.js';
import { sseEventText } from './event-text.js';
import { isReplayed } from './replay.js';
import { StreamBudget } from './stream-budget.js';
import { STREAM_LIMITS } from './stream-limits.js';

const HEARTBEAT_MS = 15_000;
/** Browsers' EventSource waits this long before reconnecting (with Last-Event-ID). */
const RETRY_MS = 2_000;
/** An ended stream whose client has not read what was queued is cut after this long. */
const LINGER_MS = 30_000;

/**
 * Writes to one SSE response with backpressure: once `write` returns false, later chunks wait in a queue until
 * `drain`. A stream whose unsent bytes (Node's buffer plus the queue) pass `sseMaxBufferedBytes`, or that is
 * behind while its key's clients hold more than their budget unsent, is ended: the client reconnects with
 * Last-Event-ID when it reads again.
 */
class SseWriter {
  private readonly queue: string[] = [];
  private queuedBytes = 0;
  private draining = false;
  private ending = false;

  constructor(
    private readonly res: ApiResponse,
    private readonly tooFarBehind: (unsent: number) => boolean,
  ) {}

  get unsentBytes(): number {
    return this.res.writableLength + this.queuedBytes;
  }

  /** False when the client is too slow and must be dropped (nothing was written). */
  write(chunk: string): boolean {
    const unsent = this.unsentBytes;
    if (unsent > STREAM_LIMITS.sseMaxBufferedBytes || this.tooFarBehind(unsent)) return false;
    if (this.draining) {
      this.queue.push(chunk);
      this.queuedBytes += Buffer.byteLength(chunk);
      return true;
    }
    if (!this.res.write(chunk)) {
      this.draining = true;
      this.res.once('drain', () => this.flush());
    }
    return true;
  }

  /** Ends the response once every queued chunk is written. */
  end(): void {
    this.ending = true;
    if (!this.draining) this.res.end();
  }

  private flush(): void {
    this.draining = false;
    while (this.queue.length > 0) {
      const chunk = this.queue.shift() as string;
      this.queuedBytes -= Buffer.byteLength(chunk);
      if (!this.res.write(chunk)) {
        this.draining = true;
        this.res.once('drain', () => this.flush());
        return;
      }
    }
    if (this.ending) this.res.end();
  }
}

/**
 * Streams one task's events as Server-Sent Events: what is stored after `after`, then live, through the event
 * feed (gap-free). Ends after the final event, on client disconnect, at shutdown, when the client is too slow,
 * or when its key's replay budget runs out (with a `retry:` for when it refills). Each stream holds one slot of
 * its key's subscription budget, shared with the WebSocket.
 */
@Injectable()
export class SseStreams implements OnModuleDestroy {
  /** `end` of every stream still following its task. */
  private readonly ending = new Set<() => void>();

  constructor(
    @Inject(EVENT_FEED) private readonly feed: EventFeed,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(StreamBudget) private readonly budget: StreamBudget,
  ) {}

  /**
   * `finished`: the task is final and has no events after `after`, so the stream ends at once. Throws a 429
   * problem (before anything is written) when the key holds all its subscriptions or replayed its budget.
   */
  stream(res: ApiResponse, principal: Principal, taskId: string, after: number, finished: boolean): void {
    const { keyHash } = principal;
    const replay = this.budget.replayState(keyHash);
    if (!finished && replay.exhausted)
      throw Problems.replayLimited(Math.max(1, Math.ceil(replay.retryAfterMs / 1000)));
    const slot = finished ? undefined : this.budget.reserveSubscription(keyHash);
    if (slot && !slot.ok) throw Problems.tooManySubscriptions(slot.limit);

    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write(`retry: ${RETRY_MS}\n\n`);
    if (!slot) {
      res.end();
      return;
    }
    this.metrics.sseStreams.inc();
    const writer = new SseWriter(res, (unsent) => this.budget.tooFarBehind(keyHash, unsent));
    const untrack = this.budget.trackBacklog(keyHash, () => writer.unsentBytes);
    let last = after;
    const subscribedAt = Date.now();
    const follower = { stop: (): void => undefined };
    let ending = false;
    let linger: NodeJS.Timeout | undefined;
    // A client too slow to keep up: its unsent bytes are freed at once; it resumes with Last-Event-ID.
    const drop = () => res.destroy();
    const heartbeat = setInterval(() => {
      if (!writer.write(': heartbeat\n\n')) drop();
    }, HEARTBEAT_MS);
    // No more events: stop following, let what is queued go out, then end. The stream keeps its slot and its
    // unsent bytes stay counted until the response is really gone (or destroyed after LINGER_MS).
    const end = () => {
      if (ending) return;
      ending = true;
      this.ending.delete(end);
      clearInterval(heartbeat);
      follower.stop();
      writer.end();
      linger = setTimeout(drop, LINGER_MS).unref();
    };
    this.ending.add(end);
    res.once('close', () => {
      end();
      clearTimeout(linger);
      untrack();
      slot.release();
      this.metrics.sseStreams.dec();
    });
    follower.stop = this.feed.followTask(taskId, after, (event: TaskEvent) => {
      if (event.seq <= last || ending) return;
      if (isReplayed(event, subscribedAt) && !this.budget.chargeReplay(keyHash)) {
        const { retryAfterMs } = this.budget.replayState(keyHash);
        // The client's EventSource reconnects after `retry` with Last-Event-ID = last, when budget is back.
        writer.write(`retry: ${Math.max(RETRY_MS, retryAfterMs)}\n\n`);
        return end();
      }
      last = event.seq;
      if (!writer.write(sseEventText(event))) return drop();
      if (FINAL_EVENT_KINDS.includes(event.kind)) end();
    });
    // The follower may have delivered a final event synchronously, before follower.stop was assigned.
    if (ending) follower.stop();
  }

  onModuleDestroy(): void {
    for (const end of [...this.ending]) end();
  }
}
