import type { Lease, WorkerStore, WriteResult } from '@gooseherd/store';

/**
 * Publishes a task's generated tokens in small batches: one fenced Lua call per flush instead of one per
 * token, and generation never waits for Redis. Calls go out on one connection, so they reach Redis in order;
 * `settle()` waits for all of them (before a checkpoint or the task's end).
 */
export class TokenSink {
  private buffer: { id: number; text: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> = Promise.resolve();
  private tokensOut: number;
  /** Set once Redis answered 'cancel' or 'fenced'; the runner polls it every token. */
  signal: WriteResult = 'ok';
  private failure: unknown;

  constructor(
    private readonly store: WorkerStore,
    private readonly lease: Lease,
    tokensOut: number,
    private readonly flushMs: number,
  ) {
    this.tokensOut = tokensOut;
  }

  push(id: number, text: string): void {
    this.buffer.push({ id, text });
    this.tokensOut++;
    this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Sends what is buffered now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    const write = this.store.appendTokens(this.lease, batch, this.tokensOut).then(
      (result) => {
        if (result !== 'ok' && this.signal !== 'fenced') this.signal = result;
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
