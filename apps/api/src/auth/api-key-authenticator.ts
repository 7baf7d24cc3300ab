import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { configuredApiKeys, type Env } from '@gooseherd/contracts';
import type { ApiStore } from '@gooseherd/store';
import { API_STORE, ENV } from '../tokens.js';

const CACHE_MS = 10_000;
const CACHE_ENTRIES = 10_000;
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
 * Resolves API keys to tenants for HTTP and WebSocket alike. Keys from the environment are known without
 * Redis (so they work the moment the process listens); others are looked up in the store and cached briefly.
 */
@Injectable()
export class ApiKeyAuthenticator {
  private readonly configured = new Map<string, string>();
  private readonly cache = new Map<string, { tenantId: string; until: number }>();

  constructor(
    @Inject(ENV) env: Env,
    @Inject(API_STORE) private readonly store: ApiStore,
  ) {
    for (const [tenant, key] of configuredApiKeys(env)) this.configured.set(hashKey(key), tenant);
  }

  /** Undefined for an unknown key; rejects when the store is unreachable. */
  async authenticate(apiKey: string): Promise<Principal | undefined> {
    if (apiKey.length === 0 || apiKey.length > MAX_KEY_CHARS) return undefined;
    const keyHash = hashKey(apiKey);
    const configured = this.configured.get(keyHash);
    if (configured) return { tenantId: configured, keyHash };
    const cached = this.cache.get(keyHash);
    if (cached && cached.until > Date.now()) return { tenantId: cached.tenantId, keyHash };
    const tenantId = await this.store.tenantForApiKey(apiKey);
    if (!tenantId) return undefined;
    if (this.cache.size >= CACHE_ENTRIES) this.cache.clear();
    this.cache.set(keyHash, { tenantId, until: Date.now() + CACHE_MS });
    return { tenantId, keyHash };
  }
}

/** The key of an `Authorization: Bearer <key>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return match?.[1];
}
