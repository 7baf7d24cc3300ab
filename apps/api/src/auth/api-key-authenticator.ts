import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { configuredApiKeys, type Env } from '@gooseherd/contracts';
import { ENV } from '../tokens.js';

const MAX_KEY_CHARS = 512;

export interface Principal {
  tenantId: string;
  /** SHA-256 of the key: rate-limit and subscription-cap bucket, safe to log. */
  keyHash: string;
}

export function hashKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

/**
 * Resolves API keys to tenants for HTTP and WebSocket alike. Keys live only in this process's configuration
 * (GOOSEHERD_API_KEY, GOOSEHERD_API_KEYS): nothing is read from or written to Redis, so a key removed from the
 * configuration stops working on an instance the moment it restarts, and on every instance once the last one
 * has restarted. (Earlier versions stored keys in Redis as `{prefix}:key:{sha256}` and fell back to them; those
 * entries are no longer read.)
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly configured = new Map<string, string>();

  constructor(@Inject(ENV) env: Env) {
    for (const [tenant, key] of configuredApiKeys(env)) this.configured.set(hashKey(key), tenant);
  }

  /** Undefined for an unknown key. */
  authenticate(apiKey: string): Principal | undefined {
    if (apiKey.length === 0 || apiKey.length > MAX_KEY_CHARS) return undefined;
    const keyHash = hashKey(apiKey);
    const tenantId = this.configured.get(keyHash);
    return tenantId === undefined ? undefined : { tenantId, keyHash };
  }

  /** Whether any key is configured (a warning at start otherwise). */
  get keyCount(): number {
    return this.configured.size;
  }
}

/** The key of an `Authorization: Bearer <key>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
