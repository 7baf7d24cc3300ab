import { STREAM_LIMITS } from './stream-limits.js';

/** What a caller holds while a subscription or connection is open; `release` is idempotent. */
export interface Reservation {
  release(): void;
}

type Refusal = { ok: false; limit: number };

/**
 * The per-key budgets that event streams draw on, on this instance: subscriptions (WebSocket subscriptions and
 * SSE streams alike), WebSocket connections, and stored events replayed per window. Reservations are taken
 * synchronously, before any await, so concurrent frames or requests can never overrun a cap.
 */
export class StreamBudget {
  private readonly subscriptions = new Map<string, number>();
  private readonly connections = new Map<string, number>();
  private readonly replayed = new Map<string, { windowStart: number; events: number }>();
  private readonly backlogs = new Map<string, Set<() => number>>();
  private readonly unsentCache = new Map<string, { at: number; bytes: number }>();

  constructor(
    private readonly limits: typeof STREAM_LIMITS = STREAM_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  reserveSubscription(keyHash: string): ({ ok: true } & Reservation) | Refusal {
    return this.reserve(this.subscriptions, keyHash, this.limits.subscriptionsPerKey);
  }

  reserveConnection(keyHash: string): ({ ok: true } & Reservation) | Refusal {
    return this.reserve(this.connections, keyHash, this.limits.connectionsPerKey);
  }

  subscriptionsOf(keyHash: string): number {
    return this.subscriptions.get(keyHash) ?? 0;
  }

  connectionsOf(keyHash: string): number {
    return this.connections.get(keyHash) ?? 0;
  }

  /** Registers a client's unsent-bytes probe under its key; returns the function that unregisters it. */
  trackBacklog(keyHash: string, unsentBytes: () => number): () => void {
    let probes = this.backlogs.get(keyHash);
    if (!probes) this.backlogs.set(keyHash, (probes = new Set()));
    probes.add(unsentBytes);
    return () => {
      probes.delete(unsentBytes);
      if (probes.size === 0 && this.backlogs.get(keyHash) === probes) this.backlogs.delete(keyHash);
    };
  }

  /**
   * Whether a client `unsent` bytes behind must be dropped: it is more than `behindBytes` behind and its key's
   * clients together hold more than `unsentBytesPerKey` unsent. The key's total is summed at most every 100 ms.
   */
  tooFarBehind(keyHash: string, unsent: number): boolean {
    if (unsent <= this.limits.behindBytes) return false;
    const now = this.now();
    let cached = this.unsentCache.get(keyHash);
    if (!cached || now - cached.at >= 100) {
      let bytes = 0;
      for (const probe of this.backlogs.get(keyHash) ?? []) bytes += probe();
      if (this.unsentCache.size > 10_000) this.unsentCache.clear();
      cached = { at: now, bytes };
      this.unsentCache.set(keyHash, cached);
    }
    return cached.bytes > this.limits.unsentBytesPerKey;
  }

  /**
   * Charges `events` replayed events to the key. False when that would pass the key's replay budget for the
   * current window (nothing is charged then); `retryAfterMs` says when the window turns.
   */
  chargeReplay(keyHash: string, events = 1): boolean {
    const window = this.replayWindow(keyHash);
    if (window.events + events > this.limits.replayEventsPerKey) return false;
    window.events += events;
    return true;
  }

  /** Whether the key has replay budget left in this window, and when the window turns. */
  replayState(keyHash: string): { exhausted: boolean; retryAfterMs: number } {
    const window = this.replayWindow(keyHash);
    return {
      exhausted: window.events >= this.limits.replayEventsPerKey,
      retryAfterMs: window.windowStart + this.limits.replayWindowMs - this.now(),
    };
  }

  private replayWindow(keyHash: string): { windowStart: number; events: number } {
    const now = this.now();
    let window = this.replayed.get(keyHash);
    if (!window || now - window.windowStart >= this.limits.replayWindowMs) {
      // Old windows of other keys are dropped as they are met, so the map holds only recently active keys.
      if (this.replayed.size > 10_000) this.dropOldWindows(now);
      window = { windowStart: now, events: 0 };
      this.replayed.set(keyHash, window);
    }
    return window;
  }

  private dropOldWindows(now: number): void {
    for (const [key, window] of this.replayed)
      if (now - window.windowStart >= this.limits.replayWindowMs) this.replayed.delete(key);
  }

  private reserve(
    counts: Map<string, number>,
    keyHash: string,
    limit: number,
  ): ({ ok: true } & Reservation) | Refusal {
    const held = counts.get(keyHash) ?? 0;
    if (held >= limit) return { ok: false, limit };
    counts.set(keyHash, held + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const next = (counts.get(keyHash) ?? 1) - 1;
        if (next > 0) counts.set(keyHash, next);
        else counts.delete(keyHash);
      },
    };
  }
}
