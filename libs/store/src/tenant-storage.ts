import type { Keys } from './keys.js';
import type { RedisClient } from './lua/scripts.js';

const DAY_MS = 86_400_000;

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

/**
 * Bytes a tenant stored (task inputs, outputs and token ids) over the retention period, counted per UTC day in
 * the tenant's slot. Finished tasks expire after the retention period, so the last `retention` days of counts
 * bound what the tenant holds; the counts are charged by separate calls beside the task's scripts and are
 * approximate by design (concurrent submissions can pass the cap by what they add at once).
 */
export class TenantStorage {
  private readonly days: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly retentionSeconds: number,
  ) {
    this.days = Math.ceil(retentionSeconds / 86_400) + 1;
  }

  async used(tenantId: string, now = Date.now()): Promise<number> {
    const keys = Array.from({ length: this.days }, (_, i) =>
      this.keys.tenantBytes(tenantId, dayOf(now - i * DAY_MS)),
    );
    const counts = await this.redis.mget(...keys);
    return counts.reduce((sum, c) => sum + Number(c ?? 0), 0);
  }

  async add(tenantId: string, bytes: number, now = Date.now()): Promise<void> {
    if (bytes <= 0) return;
    const key = this.keys.tenantBytes(tenantId, dayOf(now));
    await this.redis
      .multi()
      .incrby(key, bytes)
      .expire(key, this.retentionSeconds + 2 * 86_400)
      .exec();
  }
}
