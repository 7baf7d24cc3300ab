/** @gooseherd/queue: the BullMQ adapter. See README.md. */
export * from './segment-queue-api.js';
