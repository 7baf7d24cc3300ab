/** Why a segment stops before its task finishes or its token budget is spent. */
export type StopReason = 'cancel' | 'drain' | 'fenced';

/**
 * The segments this process is running, each with one AbortController that every reason to stop goes
 * through: a cancel or a delete (Redis pub/sub, or the answer to a token write or a check between prompt
 * slices), a drain (SIGTERM), and a lost lease (a fenced write). The first reason wins; the segment's loop
 * reads it between tokens and between prompt slices.
 */
export class TaskRegistry {
  private readonly running = new Map<string, AbortController>();
  private drainRequested = false;

  /** Registers a running task and returns its segment's controller (already aborted if draining). */
  add(taskId: string): AbortController {
    const stop = new AbortController();
    if (this.drainRequested) stop.abort('drain' satisfies StopReason);
    this.running.set(taskId, stop);
    return stop;
  }

  remove(taskId: string): void {
    this.running.delete(taskId);
  }

  requestCancel(taskId: string): void {
    this.running.get(taskId)?.abort('cancel' satisfies StopReason);
  }

  /** SIGTERM: every segment checkpoints and yields at its next token (or prompt slice). */
  drain(): void {
    this.drainRequested = true;
    for (const stop of this.running.values()) stop.abort('drain' satisfies StopReason);
  }

  get draining(): boolean {
    return this.drainRequested;
  }

  get size(): number {
    return this.running.size;
  }
}

/** The reason a segment's controller was aborted with, if it was. */
export function stopReason(stop: AbortController): StopReason | undefined {
  return stop.signal.aborted ? (stop.signal.reason as StopReason) : undefined;
}
