import { FINAL_EVENT_KINDS, type TaskEvent } from '@gooseherd/contracts';
import { EventSocket, readTaskEventStream, sleep, waitFor } from '@gooseherd/test-kit';

/**
 * Clients that behave as the platform asks real clients to: when the connection drops (API restart, outage)
 * they reconnect and resume each task from the last sequence number they saw. They keep every event in
 * arrival order, duplicates included, so a gap or a repeat across reconnects shows in `sequenceProblems`.
 */

/** A WebSocket client following many tasks; reconnects with `after` = the last seq seen per task. */
export class ResilientSubscriber {
  /** Connections opened after the first. */
  reconnects = 0;
  /** Subscribe attempts answered with an error frame (e.g. `unavailable` while Redis is away), retried. */
  refusedSubscribes = 0;
  private socket: EventSocket | undefined;
  private consumed = 0;
  private readonly logs = new Map<string, TaskEvent[]>();
  private readonly done = new Set<string>();
  /** Tasks subscribed on the current connection. */
  private subscribed = new Set<string>();
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly wsUrl: string,
    private readonly apiKey: string,
    readonly name: string,
  ) {
    this.loop = this.run();
  }

  /** Follows a task from its first event (or after `after`). */
  follow(taskId: string): void {
    if (!this.logs.has(taskId)) this.logs.set(taskId, []);
  }

  /** Events of the task in arrival order across all connections. */
  events(taskId: string): TaskEvent[] {
    return this.logs.get(taskId) ?? [];
  }

  get taskIds(): string[] {
    return [...this.logs.keys()];
  }

  /** Waits until every followed task's final event arrived. */
  async waitForAll(timeoutMs: number): Promise<void> {
    await waitFor(
      (seen) => {
        const open = this.taskIds.filter((t) => !this.done.has(t));
        seen(`${open.length} tasks without a final event, ${this.reconnects} reconnects`);
        return open.length === 0;
      },
      { timeoutMs, what: `${this.name} to receive every task's final event`, intervalMs: 100 },
    );
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.socket?.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (!this.socket || this.socket.closed) {
        if (this.socket) this.pump();
        try {
          const opened = await EventSocket.open(this.wsUrl, this.apiKey, 5_000);
          if (this.socket) this.reconnects += 1;
          this.socket = opened;
          this.consumed = 0;
          this.subscribed = new Set();
        } catch {
          await sleep(100);
          continue;
        }
      }
      this.pump();
      const socket = this.socket;
      for (const taskId of this.taskIds) {
        if (this.stopped || socket.closed) break;
        if (this.done.has(taskId) || this.subscribed.has(taskId)) continue;
        const log = this.events(taskId);
        const after = log.length > 0 ? Math.max(...log.map((e) => e.seq)) : 0;
        const answer = await socket.subscribe({ taskId }, after).catch(() => undefined);
        this.pump();
        if (answer?.type === 'subscribed') this.subscribed.add(taskId);
        else this.refusedSubscribes += 1;
      }
      await sleep(this.refusedSubscribes > 0 ? 100 : 50);
    }
    this.pump();
  }

  /** Moves newly received frames of the current connection into the per-task logs. */
  private pump(): void {
    const socket = this.socket;
    if (!socket) return;
    for (; this.consumed < socket.received.length; this.consumed++) {
      const frame = socket.received[this.consumed].frame;
      if (frame.type !== 'event') continue;
      const log = this.logs.get(frame.taskId);
      if (!log) continue;
      const { type: _type, ...event } = frame;
      log.push(event);
      if (FINAL_EVENT_KINDS.includes(frame.kind)) this.done.add(frame.taskId);
    }
  }
}

/**
 * Follows one task over Server-Sent Events until its final event, reconnecting with Last-Event-ID = the last
 * seq received whenever the stream ends early or the API cannot be reached.
 */
export async function followSse(
  baseUrl: string,
  apiKey: string,
  taskId: string,
  timeoutMs: number,
): Promise<{ events: TaskEvent[]; reconnects: number }> {
  const deadline = Date.now() + timeoutMs;
  const events: TaskEvent[] = [];
  let reconnects = -1;
  while (Date.now() < deadline) {
    reconnects += 1;
    const last = events.length > 0 ? events[events.length - 1].seq : undefined;
    try {
      const read = await readTaskEventStream(baseUrl, apiKey, taskId, {
        timeoutMs: deadline - Date.now(),
        lastEventId: last,
      });
      events.push(...read.messages.map((m) => m.taskEvent));
      if (read.end === 'final-event') return { events, reconnects };
    } catch {
      // The API is restarting (connection refused or reset): try again from the same place.
    }
    await sleep(100);
  }
  throw new Error(
    `SSE follower of ${taskId}: no final event within ${timeoutMs} ms (${events.length} events)`,
  );
}
