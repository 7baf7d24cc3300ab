/** Injection tokens of the worker's providers (see worker.module.ts). */
export const ENV = Symbol('ENV');
export const LOGGER = Symbol('LOGGER');
export const REDIS = Symbol('REDIS');
export const REDIS_SUBSCRIBER = Symbol('REDIS_SUBSCRIBER');
export const MODEL = Symbol('MODEL');
export const DECODER = Symbol('DECODER');
export const WORKER_STORE = Symbol('WORKER_STORE');
export const SEGMENT_QUEUE = Symbol('SEGMENT_QUEUE');
export const REGISTRY = Symbol('REGISTRY');
export const RUNNER = Symbol('RUNNER');
export const METRICS = Symbol('METRICS');
