/**
 * The tasks this process is running, so a cancel notification (Redis pub/sub) or a drain can reach the
 * loop that generates them. The loop checks its flags once per token.
 */
export class TaskRegistry {
  private readonly cancelled = new Set<string>();
  private readonly running = new Set<string>();
  /** SIGTERM: every segment checkpoints and yields at its next token. */
  draining = false;

  add(taskId: string): void {
    this.running.add(taskId);
  }

  remove(taskId: string): void {
    this.running.delete(taskId);
    this.cancelled.delete(taskId);
  }

  requestCancel(taskId: string): void {
    if (this.running.has(taskId)) this.cancelled.add(taskId);
  }

  isCancelled(taskId: string): boolean {
    return this.cancelled.has(taskId);
  }

  get size(): number {
    return this.running.size;
  }
}
