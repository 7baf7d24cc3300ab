import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { configuredApiKeys, type Env } from '@gooseherd/contracts';
import type { ApiStore } from '@gooseherd/store';
import type { Logger } from '../observability/logger.js';
import { API_STORE, ENV, LOGGER } from '../tokens.js';

/**
 * Stores the configured API keys (GOOSEHERD_API_KEY, GOOSEHERD_API_KEYS) in Redis, retrying with backoff
 * until Redis answers. It runs in the background: requests with these keys authenticate from the
 * environment meanwhile, so start-up does not wait for Redis.
 */
@Injectable()
export class ApiKeyBootstrap implements OnApplicationBootstrap, OnApplicationShutdown {
  private stopped = false;
  private timer?: NodeJS.Timeout;
  /** Resolves once every key is stored (tests await it). */
  done: Promise<void> = Promise.resolve();

  constructor(
    @Inject(ENV) private readonly env: Env,
    @Inject(API_STORE) private readonly store: ApiStore,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const pairs = configuredApiKeys(this.env);
    if (pairs.length === 0) {
      this.logger.warn('no API keys configured (GOOSEHERD_API_KEY / GOOSEHERD_API_KEYS)');
      return;
    }
    this.done = this.ensure(pairs);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async ensure(pairs: [string, string][]): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        for (const [tenant, key] of pairs) await this.store.ensureApiKey(tenant, key);
        this.logger.info({ keys: pairs.length }, 'configured API keys stored');
        return;
      } catch (error) {
        if (this.stopped) return;
        const delay = Math.min(100 * 2 ** attempt, 5_000);
        if (attempt === 0)
          this.logger.warn({ err: (error as Error).message }, 'storing API keys failed; retrying');
        await new Promise<void>((resolve) => (this.timer = setTimeout(resolve, delay).unref()));
      }
    }
  }
}
