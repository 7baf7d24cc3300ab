/** @gooseherd/store: the Redis state store. See README.md. */
export * from './api-store.js';
export * from './event-feed.js';
export { Keys, newId } from './keys.js';
export { RedisStore, type RedisStoreOptions } from './redis-store.js';
export { RedisEventFeed } from './redis-event-feed.js';
export * from './redis-failure.js';
export * from './eviction-policy.js';
export * from './worker-store.js';
