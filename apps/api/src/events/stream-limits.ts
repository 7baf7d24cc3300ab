/**
 * Limits on event streams (WebSocket and Server-Sent Events), per API key and per instance. Each one bounds a
 * resource a single key could otherwise grow without end; the README's table lists them.
 */
export const STREAM_LIMITS = Object.freeze({
  /** Open WebSocket connections of one key on one instance; past it a connection is closed with 4429. */
  connectionsPerKey: 512,
  /** Subscriptions of one WebSocket connection. */
  subscriptionsPerConnection: 256,
  /** WebSocket subscriptions plus SSE streams of one key on one instance. */
  subscriptionsPerKey: 1024,
  /** Stored events (written before the subscription began) replayed to one key per window, WebSocket and SSE. */
  replayEventsPerKey: 100_000,
  replayWindowMs: 60_000,
  /**
   * An event counts as replayed when it was written this long before its subscription began (clocks of the
   * worker and the API may differ a little; live events must not be charged).
   */
  replayClockSlackMs: 5_000,
  /** Unsent bytes of one WebSocket connection before it counts as too slow and is closed (1013). */
  wsMaxBufferedBytes: 8 * 1024 * 1024,
  /** Unsent bytes of one SSE stream before it counts as too slow and is ended. */
  sseMaxBufferedBytes: 1024 * 1024,
  /**
   * Unsent bytes of all of one key's WebSocket connections and SSE streams together. A client more than
   * `behindBytes` behind is dropped while its key is over this budget, so clients that read are never dropped
   * for others that do not, and a key's slow clients hold at most about this much of the API's memory.
   */
  unsentBytesPerKey: 32 * 1024 * 1024,
  behindBytes: 64 * 1024,
});
