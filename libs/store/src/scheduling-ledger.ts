import type { Keys } from './keys.js';
import type { ScriptedRedis } from './lua/scripts.js';

/**
 * The cross-agent scheduling bookkeeping, in its own hash slot (`{sched}`): which agents may have work (the
 * reconciler's worklist) and how many agents each tenant has busy (the fair queue priority). Written by separate,
 * idempotent calls beside the agent's own scripts, never inside them (a Cluster refuses a script whose keys span
 * slots). README.md, "Consistency across slots", gives the argument; in short, an agent is listed before any
 * script may activate it, a listing is dropped only after the agent was read idle, and timing bounds make the two
 * meet: submitTask refuses to activate on a listing older than MAX_LISTING_AGE_MS, and a listing younger than
 * LISTING_GRACE_MS is never dropped.
 */
export const LISTING_GRACE_MS = 60_000;
export const MAX_LISTING_AGE_MS = 20_000;
/** The reconciler's reading of an agent is acted on within this, or not at all. */
export const READING_FRESH_MS = 5_000;

export interface Listing {
  listedAtMs: number;
  /** The tenant's busy agents, this one included: the queue priority of its segment. */
  busy: number;
}

export class SchedulingLedger {
  constructor(
    private readonly redis: ScriptedRedis,
    private readonly keys: Keys,
  ) {}

  async list(agentId: string, tenantId: string): Promise<Listing> {
    const [listedAtMs, busy] = (await this.redis.ghListAgent(
      this.keys.activeAgents(),
      this.keys.tenantBusy(tenantId),
      agentId,
      tenantId,
    )) as [number, number];
    return { listedAtMs, busy };
  }

  /** The agent went idle: it no longer counts for its tenant's priority (its listing ages out). Best effort. */
  async idle(agentId: string, tenantId: string): Promise<void> {
    await this.redis.srem(this.keys.tenantBusy(tenantId), agentId);
  }

  async busy(tenantId: string): Promise<number> {
    return this.redis.scard(this.keys.tenantBusy(tenantId));
  }

  /** Listings, oldest first, in pages. */
  async *listings(): AsyncGenerator<{ agentId: string; tenantId: string; listedAtMs: number }> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.zscan(this.keys.activeAgents(), cursor, 'COUNT', 200);
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const at = flat[i].indexOf('/');
        yield {
          agentId: flat[i].slice(0, at),
          tenantId: flat[i].slice(at + 1),
          listedAtMs: Number(flat[i + 1]),
        };
      }
    } while (cursor !== '0');
  }

  /** Drops a listing the caller read (at `readAtMs`, its wall clock) together with its agent being idle. */
  async drop(agentId: string, tenantId: string, listedAtMs: number, readAtMs: number): Promise<boolean> {
    return (
      (await this.redis.ghDropListing(
        this.keys.activeAgents(),
        this.keys.tenantBusy(tenantId),
        agentId,
        tenantId,
        listedAtMs,
        LISTING_GRACE_MS,
        readAtMs + READING_FRESH_MS,
      )) === 1
    );
  }
}
