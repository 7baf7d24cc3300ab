/** Injection tokens: everything outside infrastructure/ depends on these interfaces, not on Redis classes. */
export const ENV = Symbol('Env');
/** `ApiStore` from @gooseherd/store. */
export const API_STORE = Symbol('ApiStore');
/** `EventFeed` from @gooseherd/store. */
export const EVENT_FEED = Symbol('EventFeed');
/** `SegmentProducer` from @gooseherd/queue. */
export const SEGMENT_PRODUCER = Symbol('SegmentProducer');
/** A rate-limiter-flexible `RateLimiterAbstract`, keyed by API key hash. */
export const RATE_LIMITER = Symbol('RateLimiter');
/** A rate-limiter-flexible `RateLimiterAbstract` counting failed authentications by client address. */
export const AUTH_FAILURE_LIMITER = Symbol('AuthFailureLimiter');
/** The pino logger. */
export const LOGGER = Symbol('Logger');
