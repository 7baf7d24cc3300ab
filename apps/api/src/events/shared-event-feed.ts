import type { TaskEvent } from '@gooseherd/contracts';
import type { ApiStore, EventFeed } from '@gooseherd/store';

/** Events per catch-up read. */
const BATCH = 500;
/** Wait before a catch-up read is tried again after Redis failed it. */
const RETRY_MS = 1_000;

interface Subscriber {
  cursor: number;
  readonly onEvent: (event: TaskEvent) => void;
  stopped: boolean;
}

interface SharedLog {
  /** Subscribers at the shared position, fed by the one upstream follower. */
  readonly live: Set<Subscriber>;
  /** Subscribers still reading stored events to reach the shared position. */
  catchingUp: number;
  /** Highest position the upstream follower has delivered (or started after). */
  head: number;
  stopUpstream?: () => void;
  /** Catch-up reads in flight, by cursor: subscribers at the same cursor share one read. */
  readonly reads: Map<number, Promise<TaskEvent[]>>;
}

interface LogSource {
  follow(after: number, onEvent: (event: TaskEvent) => void): () => void;
  read(after: number, count: number): Promise<TaskEvent[]>;
  positionOf(event: TaskEvent): number;
}

/**
 * Shares event reads between every follower of one log on this API instance: a log has one upstream follower
 * (one stream read per wake-up, however many clients follow it), and each event object is handed to all the
 * log's followers. A follower that starts behind the shared position first reads the stored events itself (those
 * at the same cursor share each read), then joins. Same contract as the upstream feed: in order, no gap, no
 * repeat, per follower.
 */
export class SharedEventFeed implements EventFeed {
  private readonly logs = new Map<string, SharedLog>();

  constructor(
    private readonly upstream: EventFeed,
    private readonly store: Pick<ApiStore, 'readTaskEvents' | 'readAgentEvents'>,
  ) {}

  followTask(taskId: string, after: number, onEvent: (event: TaskEvent) => void): () => void {
    return this.follow(`task:${taskId}`, after, onEvent, {
      follow: (a, deliver) => this.upstream.followTask(taskId, a, deliver),
      read: (a, count) => this.store.readTaskEvents(taskId, a, count),
      positionOf: (e) => e.seq,
    });
  }

  followAgent(agentId: string, after: number, onEvent: (event: TaskEvent) => void): () => void {
    return this.follow(`agent:${agentId}`, after, onEvent, {
      follow: (a, deliver) => this.upstream.followAgent(agentId, a, deliver),
      read: (a, count) => this.store.readAgentEvents(agentId, a, count),
      positionOf: (e) => e.agentSeq,
    });
  }

  /** Logs followed on this instance (tests, metrics). */
  get followedLogs(): number {
    return this.logs.size;
  }

  async close(): Promise<void> {
    for (const log of this.logs.values()) log.live.forEach((s) => (s.stopped = true));
    this.logs.clear();
    await this.upstream.close();
  }

  private follow(
    name: string,
    after: number,
    onEvent: (event: TaskEvent) => void,
    source: LogSource,
  ): () => void {
    const subscriber: Subscriber = { cursor: after, onEvent, stopped: false };
    let log = this.logs.get(name);
    if (!log) {
      const created: SharedLog = {
        live: new Set([subscriber]),
        catchingUp: 0,
        head: after,
        reads: new Map(),
      };
      this.logs.set(name, created);
      created.stopUpstream = source.follow(after, (event) => this.fanOut(created, event, source));
      log = created;
    } else if (after >= log.head) {
      log.live.add(subscriber);
    } else {
      void this.catchUp(log, subscriber, source, name);
    }
    const joined = log;
    return () => {
      subscriber.stopped = true;
      joined.live.delete(subscriber);
      this.release(name, joined);
    };
  }

  private fanOut(log: SharedLog, event: TaskEvent, source: LogSource): void {
    const position = source.positionOf(event);
    if (position <= log.head) return;
    log.head = position;
    for (const subscriber of [...log.live]) {
      if (subscriber.stopped || position <= subscriber.cursor) continue;
      subscriber.cursor = position;
      subscriber.onEvent(event);
    }
  }

  /** Reads stored events from the subscriber's cursor until it reaches the shared position, then joins. */
  private async catchUp(
    log: SharedLog,
    subscriber: Subscriber,
    source: LogSource,
    name: string,
  ): Promise<void> {
    log.catchingUp++;
    try {
      while (!subscriber.stopped) {
        // Checked and joined in one step: the head only moves in fanOut, which cannot run in between.
        if (subscriber.cursor >= log.head) {
          log.live.add(subscriber);
          return;
        }
        let batch: TaskEvent[];
        try {
          batch = await this.sharedRead(log, subscriber.cursor, source);
        } catch {
          await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
          continue;
        }
        if (batch.length === 0) {
          // Nothing stored between the cursor and the head (trimmed or expired): follow from here.
          log.live.add(subscriber);
          return;
        }
        for (const event of batch) {
          if (subscriber.stopped) return;
          const position = source.positionOf(event);
          if (position <= subscriber.cursor) continue;
          subscriber.cursor = position;
          subscriber.onEvent(event);
        }
      }
    } finally {
      log.catchingUp--;
      this.release(name, log);
    }
  }

  private sharedRead(log: SharedLog, cursor: number, source: LogSource): Promise<TaskEvent[]> {
    let read = log.reads.get(cursor);
    if (!read) {
      read = source.read(cursor, BATCH).finally(() => log.reads.delete(cursor));
      log.reads.set(cursor, read);
    }
    return read;
  }

  /** Stops the upstream follower once nobody follows or catches up on the log. */
  private release(name: string, log: SharedLog): void {
    if (log.live.size > 0 || log.catchingUp > 0 || this.logs.get(name) !== log) return;
    this.logs.delete(name);
    log.stopUpstream?.();
  }
}
