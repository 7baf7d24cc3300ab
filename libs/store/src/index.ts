/** @gooseherd/store: the Redis state store. See README.md. */
export * from './api-store.js';
export * from './event-feed.js';
