import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';

/**
 * The API's Redis clients. Every client fails fast while Redis is away (no offline queue, one retry,
 * short connect timeout) so requests answer 503 at once, and reconnects by itself with capped backoff.
 */
export class RedisConnections {
  /** Store commands and the rate limiter. */
  readonly store: Redis;
  /** BullMQ producer. */
  readonly queue: Redis;
  /** Pub/sub subscriber of the event feed (a subscribed client can run nothing else). */
  readonly feedSubscriber: Redis;
  /** Event-log reads of the event feed. */
  readonly feedReader: Redis;

  constructor(
    url: string,
    private readonly logger: Logger,
  ) {
    this.store = this.connect(url, 'store');
    this.queue = this.connect(url, 'queue');
    this.feedSubscriber = this.connect(url, 'feed-sub');
    this.feedReader = this.connect(url, 'feed-read');
  }

  private all(): Redis[] {
    return [this.store, this.queue, this.feedSubscriber, this.feedReader];
  }

  /** True when every client is connected (used to tell an outage from a bug). */
  allReady(): boolean {
    return this.all().every((c) => c.status === 'ready');
  }

  /** Resolves when every client is connected, or after `timeoutMs` (start-up must not need Redis). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.allReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.allReady();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.all().map(async (client) => {
        client.removeAllListeners('error');
        client.on('error', () => undefined);
        if (client.status !== 'ready') return client.disconnect();
        const quit = client.quit().catch(() => undefined);
        const timeout = new Promise<void>((resolve) => setTimeout(resolve, 1_000).unref());
        await Promise.race([quit, timeout]);
        client.disconnect();
      }),
    );
  }

  private connect(url: string, role: string): Redis {
    const client = new Redis(url, {
      connectionName: `gooseherd-api-${role}`,
      enableOfflineQueue: false,
      connectTimeout: 2_000,
      // ioredis keeps a timer this long after disconnect() when the socket had already failed.
      disconnectTimeout: 200,
      maxRetriesPerRequest: 1,
      // A half-open connection must not hang requests (nothing here uses blocking commands).
      commandTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), 2_000),
    });
    // One log line per outage, not one per reconnect attempt; an 'error' listener also keeps the
    // process alive (an EventEmitter without one throws).
    let down = false;
    client.on('error', (error: Error) => {
      if (down) return;
      down = true;
      this.logger.warn({ redis: role, err: error.message }, 'redis connection lost; reconnecting');
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.info({ redis: role }, 'redis connection restored');
    });
    return client;
  }
}
