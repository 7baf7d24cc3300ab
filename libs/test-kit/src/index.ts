/** @gooseherd/test-kit: what every test suite uses to drive the platform from outside. See README.md. */
export * from './deadline.js';
export * from './managed-process.js';
export * from './process-sockets.js';
export * from './private-redis.js';
export * from './rest-client.js';
export * from './raw-http.js';
export * from './sse-reader.js';
export * from './event-socket.js';
export * from './task-log.js';
export * from './workloads.js';
export * from './gooseherd-cluster.js';
