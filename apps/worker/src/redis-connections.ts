import Redis from 'ioredis';
import type { Logger } from 'pino';

/**
 * Worker connections wait out Redis outages instead of failing fast: commands queue while reconnecting
 * (BullMQ requires `maxRetriesPerRequest: null`), and reconnect attempts back off to 2 s.
 */
export function workerRedis(url: string, log: Logger, name: string): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    retryStrategy: (times) => Math.min(2000, 50 * 2 ** Math.min(times, 6)),
    connectionName: name,
  });
  let down = false;
  redis.on('error', (err) => {
    if (!down) log.warn({ err: err.message, connection: name }, 'redis unavailable; retrying');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info({ connection: name }, 'redis connection restored');
    down = false;
  });
  return redis;
}
