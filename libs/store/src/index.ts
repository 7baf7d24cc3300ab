/** @gooseherd/store: the Redis state store. See README.md. */
export * from './api-store.js';
export * from './event-feed.js';
export { decodeEntries, decodeEntry, type StreamKind } from './event-codec.js';
export { Keys, newId, newTaskId, slotTag } from './keys.js';
export { LUA_DIR, loadScripts, type RedisClient } from './lua/scripts.js';
export {
  RedisStore,
  DEFAULT_MAX_QUEUED_TASKS,
  DEFAULT_MAX_TENANT_BYTES,
  IDEMPOTENCY_TTL_S,
  type RedisStoreOptions,
} from './redis-store.js';
export { RedisEventFeed } from './redis-event-feed.js';
export { readStream } from './stream-read.js';
export * from './redis-failure.js';
export * from './eviction-policy.js';
export * from './worker-store.js';
