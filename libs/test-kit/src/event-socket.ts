import type { ServerFrame, TaskEvent } from '@gooseherd/contracts';
import WebSocket from 'ws';
import { DeadlineError, withDeadline } from './deadline.js';

export type EventFrame = Extract<ServerFrame, { type: 'event' }>;
export type ErrorFrame = Extract<ServerFrame, { type: 'error' }>;

/** A frame as received, with the local time it arrived. */
export interface ReceivedFrame {
  frame: ServerFrame;
  receivedAt: number;
}

/**
 * A WebSocket connection to `/v1/ws` that keeps every frame the server sends, in order, with its arrival
 * time. Waits are event-driven and bounded by a deadline.
 */
export class EventSocket {
  readonly received: ReceivedFrame[] = [];
  closed: { code: number; reason: string } | undefined;
  private readonly waiters = new Set<() => void>();

  /** The raw `ws` client, for what the helpers here do not cover. */
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? Buffer.from(data as Buffer).toString('utf8') : data.toString();
      let frame: ServerFrame;
      try {
        frame = JSON.parse(text) as ServerFrame;
      } catch {
        frame = { type: 'error', code: 'harness_unparsable_frame', message: text };
      }
      this.received.push({ frame, receivedAt: Date.now() });
      this.notify();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.notify();
    });
    ws.on('error', () => this.notify());
  }

  /** Opens `wsUrl` (token in the query when given) and resolves once the connection is open. */
  static async open(wsUrl: string, token: string | undefined, timeoutMs = 10_000): Promise<EventSocket> {
    const url = token === undefined ? wsUrl : `${wsUrl}?token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url);
    const socket = new EventSocket(ws);
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) =>
          reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)),
        );
      }),
      timeoutMs,
      `WebSocket ${wsUrl} to open`,
    );
    return socket;
  }

  get frames(): ServerFrame[] {
    return this.received.map((r) => r.frame);
  }

  /** Sends a frame: an object is sent as JSON, a string as it is (to test malformed frames). */
  send(frame: object | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends bytes as they are, as a binary frame or as a text frame (which need not be valid UTF-8). */
  sendRaw(data: Buffer, options: { binary: boolean }): void {
    this.ws.send(data, { binary: options.binary });
  }

  /** Subscribes to a task (events with seq > after) and waits for `subscribed` or an error frame. */
  subscribe(target: { taskId: string } | { agentId: string }, after = 0): Promise<ServerFrame> {
    const from = this.received.length;
    this.send({ type: 'subscribe', ...target, after });
    const id = 'taskId' in target ? target.taskId : target.agentId;
    return this.waitForFrame(
      (f) => (f.type === 'subscribed' && (f.taskId === id || f.agentId === id)) || f.type === 'error',
      { timeoutMs: 10_000, what: `an answer to subscribe ${id}`, fromIndex: from },
    );
  }

  /** Event frames of one task (or of every task when taskId is undefined), in arrival order, duplicates kept. */
  events(filter: { taskId?: string; agentId?: string } = {}): TaskEvent[] {
    return this.received
      .map((r) => r.frame)
      .filter((f): f is EventFrame => f.type === 'event')
      .filter((f) => filter.taskId === undefined || f.taskId === filter.taskId)
      .filter((f) => filter.agentId === undefined || f.agentId === filter.agentId);
  }

  /** Like events(), each with its local arrival time. */
  timedEvents(taskId: string): { event: TaskEvent; receivedAt: number }[] {
    return this.received
      .filter((r) => r.frame.type === 'event' && r.frame.taskId === taskId)
      .map((r) => ({ event: r.frame as EventFrame, receivedAt: r.receivedAt }));
  }

  /**
   * Resolves with the first frame (at index ≥ fromIndex) that satisfies `match`; rejects at the deadline, or
   * when the connection closes first.
   */
  waitForFrame(
    match: (frame: ServerFrame) => boolean,
    options: { timeoutMs: number; what: string; fromIndex?: number },
  ): Promise<ServerFrame> {
    let scanned = options.fromIndex ?? 0;
    let wake: (() => void) | undefined;
    const found = new Promise<ServerFrame>((resolve, reject) => {
      const check = () => {
        for (; scanned < this.received.length; scanned++) {
          const frame = this.received[scanned].frame;
          if (match(frame)) return resolve(frame);
        }
        if (this.closed)
          reject(new Error(`connection closed (${this.closed.code}) while waiting for ${options.what}`));
      };
      wake = check;
      this.waiters.add(check);
      check();
    });
    return withDeadline(found, options.timeoutMs, options.what)
      .catch((err: unknown) => {
        if (err instanceof DeadlineError) {
          const last = this.frames.slice(-3).map((f) => JSON.stringify(f));
          throw new DeadlineError(options.what, options.timeoutMs, last.join(' | ') || '(no frames)');
        }
        throw err;
      })
      .finally(() => this.waiters.delete(wake!));
  }

  /** Resolves with the close code and reason once the server (or this side) has closed the connection. */
  waitForClose(timeoutMs: number): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return withDeadline(
      new Promise<{ code: number; reason: string }>((resolve) =>
        this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      ),
      timeoutMs,
      'the WebSocket to close',
    );
  }

  /** Waits for the task's final event (completed, failed or cancelled). */
  waitForFinalEvent(taskId: string, timeoutMs: number): Promise<TaskEvent> {
    return this.waitForFrame(
      (f) =>
        f.type === 'event' &&
        f.taskId === taskId &&
        (f.kind === 'completed' || f.kind === 'failed' || f.kind === 'cancelled'),
      { timeoutMs, what: `the final event of task ${taskId} on the WebSocket` },
    ) as Promise<EventFrame>;
  }

  async close(): Promise<void> {
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) return;
    const done = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await withDeadline(done, 5_000, 'the WebSocket to close').catch(() => this.ws.terminate());
  }

  private notify(): void {
    for (const waiter of this.waiters) waiter();
  }
}
