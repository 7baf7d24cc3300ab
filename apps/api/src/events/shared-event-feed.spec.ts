import type { TaskEvent } from '@gooseherd/contracts';
import type { EventFeed } from '@gooseherd/store';
import { SharedEventFeed } from './shared-event-feed.js';

/** An in-memory log with the upstream feed's contract: replay after the cursor, then live, per follower. */
class MemoryLog implements EventFeed {
  readonly events: TaskEvent[] = [];
  readonly followers = new Set<{ cursor: number; onEvent: (e: TaskEvent) => void }>();
  follows = 0;
  reads = 0;

  append(count: number): void {
    for (let i = 0; i < count; i++) {
      const seq = this.events.length + 1;
      const event = {
        seq,
        agentSeq: seq,
        kind: 'token',
        taskId: 't',
        agentId: 'a',
        data: {},
        at: '',
      } as never;
      this.events.push(event);
      for (const f of this.followers) this.deliver(f);
    }
  }

  followTask(_taskId: string, after: number, onEvent: (e: TaskEvent) => void): () => void {
    this.follows++;
    const follower = { cursor: after, onEvent };
    this.followers.add(follower);
    queueMicrotask(() => this.deliver(follower));
    return () => this.followers.delete(follower);
  }

  followAgent(): () => void {
    throw new Error('not used');
  }

  async readTaskEvents(_taskId: string, after: number, count: number): Promise<TaskEvent[]> {
    this.reads++;
    await Promise.resolve();
    return this.events.filter((e) => e.seq > after).slice(0, count);
  }

  async readAgentEvents(): Promise<TaskEvent[]> {
    return [];
  }

  async close(): Promise<void> {}

  private deliver(f: { cursor: number; onEvent: (e: TaskEvent) => void }): void {
    if (!this.followers.has(f)) return;
    for (const e of this.events) {
      if (e.seq <= f.cursor) continue;
      f.cursor = e.seq;
      f.onEvent(e);
    }
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('SharedEventFeed', () => {
  it('follows a log once upstream for any number of followers, each getting every event once, in order', async () => {
    const log = new MemoryLog();
    const feed = new SharedEventFeed(log, log);
    log.append(1_200);
    const seen: number[][] = [];
    const stops = [0, 0, 0, 600, 1_199, 1_500].map((after, i) => {
      seen[i] = [];
      return feed.followTask('t', after, (e) => seen[i].push(e.seq));
    });
    await settle();
    log.append(400);
    await settle();
    expect(log.follows).toBe(1);
    const expected = (after: number) => Array.from({ length: 1_600 - after }, (_, k) => after + k + 1);
    expect(seen[0]).toEqual(expected(0));
    expect(seen[3]).toEqual(expected(600));
    expect(seen[4]).toEqual(expected(1_199));
    expect(seen[5]).toEqual(expected(1_500));
    stops.forEach((stop) => stop());
    expect(log.followers.size).toBe(0);
    expect(feed.followedLogs).toBe(0);
  });

  it('lets followers that start behind at the same cursor share their catch-up reads', async () => {
    const log = new MemoryLog();
    const feed = new SharedEventFeed(log, log);
    log.append(2_000);
    const first = feed.followTask('t', 1_999, () => undefined);
    await settle();
    const counts = Array.from({ length: 50 }, () => 0);
    const stops = counts.map((_, i) => feed.followTask('t', 0, () => counts[i]++));
    await settle();
    expect(counts.every((c) => c === 2_000)).toBe(true);
    expect(log.reads).toBe(Math.ceil(2_000 / 500)); // 4 shared batches for 50 followers, then they join
    [first, ...stops].forEach((stop) => stop());
  });
});
