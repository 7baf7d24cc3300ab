import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { RedisStore } from '../redis-store.js';
import { WorkerStore } from '../worker-store.js';

/** The store's two sides on the machine's shared Redis, under a prefix of this test file's own. */
export interface SharedRedisStores {
  readonly prefix: string;
  readonly options: { prefix: string; taskTtlSeconds: number };
  redis: Redis;
  api: RedisStore;
  worker: WorkerStore;
}

/**
 * Registers the hooks that connect before a spec file's tests and, after them, delete every key under the
 * file's prefix and disconnect. Read the fields inside tests or hooks (they are set by `beforeAll`).
 */
export function useSharedRedisStores(name: string): SharedRedisStores {
  const prefix = `ghtest-${name}-${randomBytes(4).toString('hex')}`;
  const stores = { prefix, options: { prefix, taskTtlSeconds: 3600 } } as SharedRedisStores;
  beforeAll(() => {
    stores.redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    stores.api = new RedisStore(stores.redis, stores.options);
    stores.worker = new WorkerStore(stores.redis, stores.options);
  });
  afterAll(async () => {
    const keys = await stores.redis.keys(`${prefix}:*`);
    if (keys.length) await stores.redis.del(...keys);
    await stores.redis.quit();
  });
  return stores;
}
