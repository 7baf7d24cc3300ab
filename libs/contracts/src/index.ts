/** @gooseherd/contracts: every shape that crosses a process boundary. See README.md. */
export * from './limits.js';
export * from './rest-schemas.js';
export * from './records.js';
export * from './events.js';
export * from './ws-frames.js';
export * from './jobs.js';
export * from './config.js';
export * from './ids.js';
export * from './deadline.js';
