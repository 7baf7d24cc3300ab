/** @gooseherd/queue: the BullMQ adapter (the only package that imports bullmq). See README.md. */
export * from './segment-queue-api.js';
export * from './segment-queue.js';
export * from './segment-consumer.js';
