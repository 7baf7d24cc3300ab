import type { TaskEvent } from '@gooseherd/contracts';
import type { EventFeed } from './event-feed.js';
import { Keys } from './keys.js';
import type { StreamKind } from './event-codec.js';
import type { RedisClient } from './lua/scripts.js';
import { readStream } from './stream-read.js';

interface Follower {
  cursor: number;
  readonly onEvent: (event: TaskEvent) => void;
  /** A read is running; `dirty` asks for another one when it ends (notifications arrived meanwhile). */
  reading: boolean;
  dirty: boolean;
  stopped: boolean;
}

interface Log {
  readonly kind: StreamKind;
  readonly key: string;
  readonly channel: string;
  readonly seqOf: (e: TaskEvent) => number;
  readonly followers: Set<Follower>;
}

const BATCH = 500;

/**
 * Follows event streams for one API instance. Workers append to a stream and PUBLISH the new sequence number
 * in the same Lua call; a notification makes each follower of that log read from its own cursor, so a lost
 * or reordered notification costs nothing but latency. A slow poll and a re-read after every reconnect cover
 * notifications missed while the subscriber connection was down.
 */
export class RedisEventFeed implements EventFeed {
  private readonly keys: Keys;
  private readonly logs = new Map<string, Log>();
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly reader: RedisClient,
    options: { prefix: string; pollMs?: number },
  ) {
    this.keys = new Keys(options.prefix);
    subscriber.on('message', (channel: string) => this.wake(this.logs.get(channel)));
    subscriber.on('ready', () => this.logs.forEach((log) => this.wake(log)));
    this.poll = setInterval(() => this.logs.forEach((log) => this.wake(log)), options.pollMs ?? 2000);
    this.poll.unref();
  }

  followTask(taskId: string, after: number, onEvent: (event: TaskEvent) => void): () => void {
    return this.follow(
      'task',
      this.keys.taskEvents(taskId),
      this.keys.taskChannel(taskId),
      (e) => e.seq,
      after,
      onEvent,
    );
  }

  followAgent(agentId: string, after: number, onEvent: (event: TaskEvent) => void): () => void {
    const key = this.keys.agentEvents(agentId);
    return this.follow('agent', key, this.keys.agentChannel(agentId), (e) => e.agentSeq, after, onEvent);
  }

  async close(): Promise<void> {
    clearInterval(this.poll);
    for (const log of this.logs.values()) log.followers.forEach((f) => (f.stopped = true));
    this.logs.clear();
  }

  private follow(
    kind: StreamKind,
    key: string,
    channel: string,
    seqOf: (e: TaskEvent) => number,
    after: number,
    onEvent: (event: TaskEvent) => void,
  ): () => void {
    let log = this.logs.get(channel);
    if (!log) {
      log = { kind, key, channel, seqOf, followers: new Set() };
      this.logs.set(channel, log);
      // Notifications published before the subscription took effect are missed: read again once it has (on a
      // Cluster the subscriber connection may only now be opening). ioredis re-subscribes after a reconnect.
      this.subscriber.subscribe(channel).then(
        () => this.wake(this.logs.get(channel)),
        () => undefined,
      );
    }
    const follower: Follower = { cursor: after, onEvent, reading: false, dirty: false, stopped: false };
    log.followers.add(follower);
    void this.read(log, follower);
    return () => {
      follower.stopped = true;
      const current = this.logs.get(channel);
      if (!current) return;
      current.followers.delete(follower);
      if (current.followers.size === 0) {
        this.logs.delete(channel);
        this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  private wake(log: Log | undefined): void {
    log?.followers.forEach((f) => void this.read(log, f));
  }

  /** Delivers everything after the follower's cursor, in order; one read at a time per follower. */
  private async read(log: Log, f: Follower): Promise<void> {
    if (f.reading) {
      f.dirty = true;
      return;
    }
    f.reading = true;
    try {
      do {
        f.dirty = false;
        let batch: TaskEvent[];
        do {
          batch = await readStream(this.reader, log.kind, log.key, f.cursor, BATCH);
          for (const event of batch) {
            if (f.stopped) return;
            const seq = log.seqOf(event);
            if (seq <= f.cursor) continue;
            f.cursor = seq;
            f.onEvent(event);
          }
        } while (batch.length === BATCH && !f.stopped);
      } while (f.dirty && !f.stopped);
    } catch {
      // Redis unreachable: the next notification, reconnect or poll retries from the same cursor.
    } finally {
      f.reading = false;
    }
  }
}
