import { Redis } from 'ioredis';

/**
 * Gooseherd keeps everything in Redis: agents' state blobs, task records, mailboxes and BullMQ's jobs. A Redis
 * that evicts keys under memory pressure would silently drop some of them (an agent's memory, a queued
 * segment), so the API and the workers refuse to start against one. With `noeviction` a full Redis refuses
 * writes instead (OOM), which the API answers with 503 and the worker retries.
 */
export const REQUIRED_EVICTION_POLICY = 'noeviction';

export class RedisEvictionPolicyError extends Error {
  constructor(readonly policy: string) {
    super(
      `Redis maxmemory-policy is '${policy}', but Gooseherd needs '${REQUIRED_EVICTION_POLICY}': ` +
        "an evicting Redis silently drops agents' state and queued work. Set `maxmemory-policy noeviction` " +
        'in redis.conf (or run CONFIG SET maxmemory-policy noeviction) and start again.',
    );
    this.name = 'RedisEvictionPolicyError';
  }
}

export type EvictionPolicyCheck =
  | { outcome: 'ok' }
  /** Redis did not answer in time: the process starts anyway and answers 503 / retries until it does. */
  | { outcome: 'unreachable'; reason: string }
  /** Redis answered but would not say its policy (INFO refused): nothing to refuse on. */
  | { outcome: 'unknown'; reason: string };

/** `maxmemory_policy` from `INFO memory` (readable on managed Redis services that disable CONFIG). */
export function evictionPolicyFromInfo(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/**
 * Connects once to `url` (waiting at most `timeoutMs`) and throws `RedisEvictionPolicyError` when its
 * `maxmemory-policy` is not `noeviction`. Called by the API and the worker before they start.
 */
export async function checkRedisEvictionPolicy(url: string, timeoutMs = 5_000): Promise<EvictionPolicyCheck> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    connectionName: 'gooseherd-startup-check',
  });
  client.on('error', () => undefined);
  try {
    try {
      await client.connect();
    } catch (error) {
      return { outcome: 'unreachable', reason: (error as Error).message };
    }
    let info: string;
    try {
      info = await client.info('memory');
    } catch (error) {
      return { outcome: 'unknown', reason: (error as Error).message };
    }
    const policy = evictionPolicyFromInfo(info);
    if (policy === undefined) return { outcome: 'unknown', reason: 'INFO memory has no maxmemory_policy' };
    if (policy !== REQUIRED_EVICTION_POLICY) throw new RedisEvictionPolicyError(policy);
    return { outcome: 'ok' };
  } finally {
    client.disconnect();
  }
}
