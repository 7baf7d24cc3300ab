import {
  checkRedisEvictionPolicy,
  evictionPolicyFromInfo,
  RedisEvictionPolicyError,
} from './eviction-policy.js';
import {
  freePort,
  startPrivateRedisServer,
  type PrivateRedisServer,
} from './testing/private-redis-server.js';

describe('checkRedisEvictionPolicy', () => {
  let server: PrivateRedisServer;

  beforeAll(async () => {
    server = await startPrivateRedisServer(['--maxmemory-policy', 'allkeys-lru']);
  });

  afterAll(() => server.stop());

  it('refuses a Redis that evicts keys, naming maxmemory-policy, the policy found and the one needed', async () => {
    const check = checkRedisEvictionPolicy(server.url);
    await expect(check).rejects.toBeInstanceOf(RedisEvictionPolicyError);
    await expect(check).rejects.toThrow(/maxmemory-policy is 'allkeys-lru'.*needs 'noeviction'/);
  });

  it.each(['volatile-lru', 'allkeys-lfu', 'volatile-ttl', 'allkeys-random'])(
    'refuses %s too',
    async (policy) => {
      await server.client.config('SET', 'maxmemory-policy', policy);
      await expect(checkRedisEvictionPolicy(server.url)).rejects.toThrow(`'${policy}'`);
    },
  );

  it('accepts noeviction', async () => {
    await server.client.config('SET', 'maxmemory-policy', 'noeviction');
    await expect(checkRedisEvictionPolicy(server.url)).resolves.toEqual({ outcome: 'ok' });
  });

  it('does not refuse a Redis it cannot reach (the process starts and waits for it), and says so', async () => {
    const started = Date.now();
    const check = await checkRedisEvictionPolicy(`redis://127.0.0.1:${await freePort()}`, 1_000);
    expect(check.outcome).toBe('unreachable');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reads the policy from INFO memory', () => {
    expect(evictionPolicyFromInfo('# Memory\r\nused_memory:1\r\nmaxmemory_policy:noeviction\r\n')).toBe(
      'noeviction',
    );
    expect(evictionPolicyFromInfo('# Memory\r\nused_memory:1\r\n')).toBeUndefined();
  });
});
