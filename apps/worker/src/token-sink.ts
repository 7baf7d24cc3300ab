import type { Lease, WorkerStore, WriteResult } from '@gooseherd/store';

/**
 * Publishes a task's generated tokens: a token goes out at once when the last write is at least `flushMs`
 * old (so the first token is never delayed), otherwise it joins the next write, at most `flushMs` later.
 * Under load that is one fenced Lua call per agent per `flushMs` instead of one per token, and generation
 * never waits for Redis. Calls go out on one connection, so they reach Redis in order;
 * `settle()` waits for all of them (before a checkpoint or the task's end).
 */
export class TokenSink {
  private buffer: { id: number; text: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private inFlight: Promise<unknown> = Promise.resolve();
  private tokensOut: number;
  /** Set once Redis answered 'cancel' or 'fenced' (the segment's controller is aborted with it too). */
  signal: WriteResult = 'ok';
  private failure: unknown;

  constructor(
    private readonly store: WorkerStore,
    private readonly lease: Lease,
    tokensOut: number,
    private readonly flushMs: number,
    /** The segment's controller: a 'cancel' or 'fenced' answer stops the segment through it. */
    private readonly stop?: AbortController,
  ) {
    this.tokensOut = tokensOut;
  }

  push(id: number, text: string): void {
    this.buffer.push({ id, text });
    this.tokensOut++;
    if (this.timer) return;
    const wait = this.lastFlush + this.flushMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer = setTimeout(() => this.flush(), wait);
  }

  /** Sends what is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    this.lastFlush = Date.now();
    const batch = this.buffer;
    this.buffer = [];
    const write = this.store.appendTokens(this.lease, batch, this.tokensOut).then(
      (result) => {
        if (result !== 'ok' && this.signal !== 'fenced') this.signal = result;
        if (result !== 'ok') this.stop?.abort(result);
      },
      (err: unknown) => {
        this.failure ??= err;
      },
    );
    this.inFlight = Promise.all([this.inFlight, write]);
  }

  /** Flushes and waits until every write is answered; rethrows a Redis failure. */
  async settle(): Promise<WriteResult> {
    this.flush();
    await this.inFlight;
    if (this.failure) throw this.failure;
    return this.signal;
  }

  /** Drops unsent tokens (the segment is abandoned: another worker owns the agent now). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = [];
  }
}
