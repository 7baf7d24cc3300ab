import { createHash } from 'node:crypto';
import {
  ID_PATTERN,
  type AgentSegmentJob,
  type AgentView,
  type Page,
  type Sampling,
  type TaskEvent,
  type TaskView,
} from '@gooseherd/contracts';
import {
  AgentLimitError,
  IdempotencyConflictError,
  QueuedTaskLimitError,
  TenantStorageLimitError,
  type ApiStore,
  type SubmitOptions,
} from './api-store.js';
import { Keys, newId, newTaskId, slotTag } from './keys.js';
import { withScripts, type RedisClient, type ScriptedRedis } from './lua/scripts.js';
import { clock, MAX_MAILBOX_RETRIES, operationId } from './operation.js';
import { agentView, taskView } from './records.js';
import { MAX_LISTING_AGE_MS, READING_FRESH_MS, SchedulingLedger } from './scheduling-ledger.js';
import { readStream } from './stream-read.js';
import { TenantStorage } from './tenant-storage.js';

export interface RedisStoreOptions {
  prefix: string;
  /** How long finished tasks and their event logs are kept. */
  taskTtlSeconds: number;
  /** Tasks one agent may hold waiting or running (GOOSEHERD_MAX_QUEUED_TASKS). */
  maxQueuedTasks?: number;
  /** Bytes of task input and output one tenant may store within the retention (GOOSEHERD_MAX_TENANT_BYTES). */
  maxTenantBytes?: number;
}

export const DEFAULT_MAX_QUEUED_TASKS = 1000;
export const DEFAULT_MAX_TENANT_BYTES = 1024 ** 3;
/** How long an Idempotency-Key is remembered. */
export const IDEMPOTENCY_TTL_S = 86_400;
/** How long a deleted agent's tombstone answers a resent delete. */
const TOMBSTONE_TTL_S = 3_600;
/** A reservation older than this may be released by a listing; createAgent refuses one older than half. */
const RESERVATION_GRACE_MS = 60_000;
/** A tenant at its agent limit has its whole list checked for dangling reservations at most this often. */
const LIMIT_REPAIR_INTERVAL_MS = 60_000;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The API's side of the store (see ApiStore). Each change of an agent is one Lua script in its slot. */
export class RedisStore implements ApiStore {
  readonly keys: Keys;
  private readonly redis: ScriptedRedis;
  private readonly ledger: SchedulingLedger;
  private readonly storage: TenantStorage;
  private readonly maxQueuedTasks: number;
  private readonly maxTenantBytes: number;
  /** When each tenant's list was last checked for dangling reservations at its limit (this process). */
  private readonly limitRepairs = new Map<string, number>();

  constructor(
    redis: RedisClient,
    private readonly options: RedisStoreOptions,
  ) {
    this.redis = withScripts(redis);
    this.keys = new Keys(options.prefix);
    this.ledger = new SchedulingLedger(this.redis, this.keys);
    this.storage = new TenantStorage(this.redis, this.keys, options.taskTtlSeconds);
    this.maxQueuedTasks = options.maxQueuedTasks ?? DEFAULT_MAX_QUEUED_TASKS;
    this.maxTenantBytes = options.maxTenantBytes ?? DEFAULT_MAX_TENANT_BYTES;
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async createAgent(
    tenantId: string,
    input: { model: string; system?: string; sampling?: Sampling },
    maxAgents: number,
  ): Promise<AgentView> {
    const id = newId('agt');
    await this.reserveAndCreate(tenantId, id, maxAgents, [
      input.model,
      input.system ?? '',
      input.sampling ? JSON.stringify(input.sampling) : '',
      new Date().toISOString(),
    ]);
    return (await this.getAgent(tenantId, id))!;
  }

  /**
   * Reserves the agent's place in its tenant's list (tenant slot), then creates it (agent slot). A reservation
   * that waited too long (a frozen process) is refreshed first, so a listing never removes a live one.
   */
  private async reserveAndCreate(
    tenantId: string,
    agentId: string,
    maxAgents: number,
    record: [model: string, system: string, sampling: string, createdAt: string],
    fork: (string | number | Buffer)[] = [''],
  ): Promise<void> {
    const list = this.keys.tenantAgents(tenantId);
    let refresh = '';
    for (let attempt = 0; attempt < 3; attempt++) {
      let [reserved, at] = (await this.redis.ghReserveAgent(list, agentId, maxAgents, refresh)) as number[];
      if (
        reserved === 0 &&
        this.mayRepairAtLimit(tenantId) &&
        (await this.releaseDanglingAgents(tenantId)) > 0
      ) {
        [reserved, at] = (await this.redis.ghReserveAgent(list, agentId, maxAgents, refresh)) as number[];
      }
      if (reserved === 0) throw new AgentLimitError(maxAgents);
      const created = await this.redis.ghCreateAgent(
        this.keys.agent(agentId),
        this.keys.agentState(agentId),
        agentId,
        tenantId,
        ...record,
        at,
        RESERVATION_GRACE_MS / 2,
        ...fork,
      );
      if (created === 1) return;
      refresh = 'refresh';
    }
    throw new Error('could not create the agent: its reservation kept ageing');
  }

  private mayRepairAtLimit(tenantId: string): boolean {
    const now = Date.now();
    if (now - (this.limitRepairs.get(tenantId) ?? 0) < LIMIT_REPAIR_INTERVAL_MS) return false;
    if (this.limitRepairs.size > 10_000) this.limitRepairs.clear();
    this.limitRepairs.set(tenantId, now);
    return true;
  }

  /** Removes reservations whose agent never appeared or was deleted (a process died between the two steps). */
  private async releaseDanglingAgents(tenantId: string, ids?: [string, number][]): Promise<number> {
    const list = this.keys.tenantAgents(tenantId);
    let entries = ids;
    if (!entries) {
      const flat = await this.redis.zrange(list, '0', '-1', 'WITHSCORES');
      entries = [];
      for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i], Number(flat[i + 1])]);
    }
    const readAtMs = Date.now();
    const exists = await Promise.all(
      entries.map(([id]) => this.redis.hexists(this.keys.agent(id), 'tenant')),
    );
    let released = 0;
    for (let i = 0; i < entries.length; i++) {
      if (exists[i]) continue;
      const [id, at] = entries[i];
      released += Number(
        await this.redis.ghReleaseAgent(list, id, at, RESERVATION_GRACE_MS, readAtMs + READING_FRESH_MS),
      );
    }
    return released;
  }

  async getAgent(tenantId: string, agentId: string): Promise<AgentView | undefined> {
    if (!ID_PATTERN.test(agentId)) return undefined;
    const [[, h], [, pending]] = (await this.redis
      .multi()
      .hgetall(this.keys.agent(agentId))
      .llen(this.keys.mailbox(agentId))
      .exec()) as [[unknown, Record<string, string>], [unknown, number]];
    if (h.tenant !== tenantId) return undefined;
    return agentView(h, pending);
  }

  async listAgents(tenantId: string, limit: number, cursor?: string): Promise<Page<AgentView>> {
    const offset = cursor && /^\d{1,9}$/.test(cursor) ? Number(cursor) : 0;
    const flat = await this.redis.zrange(
      this.keys.tenantAgents(tenantId),
      String(offset),
      String(offset + limit),
      'WITHSCORES',
    );
    const entries: [string, number][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) entries.push([flat[i], Number(flat[i + 1])]);
    const page = entries.slice(0, limit);
    // One command per agent: on a Cluster the records live in different slots.
    const rows = await Promise.all(page.map(([id]) => this.redis.hgetall(this.keys.agent(id))));
    const dangling = page.filter((_, i) => rows[i].tenant === undefined);
    if (dangling.length) await this.releaseDanglingAgents(tenantId, dangling).catch(() => 0);
    const items = rows.filter((h) => h.tenant === tenantId).map((h) => agentView(h));
    return entries.length > limit ? { items, nextCursor: String(offset + limit) } : { items };
  }

  async deleteAgent(tenantId: string, agentId: string): Promise<boolean> {
    if (!ID_PATTERN.test(agentId)) return false;
    const op = operationId();
    const k = this.keys;
    for (let attempt = 0; attempt < MAX_MAILBOX_RETRIES; attempt++) {
      const tasks = await this.redis.lrange(k.mailbox(agentId), 0, -1);
      const keys = [k.agent(agentId), k.agentState(agentId), k.mailbox(agentId), k.agentEvents(agentId)];
      for (const t of tasks) keys.push(...k.taskKeys(t));
      const [now, nowMs] = clock();
      const result = await this.redis.ghDeleteAgent(
        keys.length,
        ...keys,
        tenantId,
        agentId,
        this.options.taskTtlSeconds,
        now,
        nowMs,
        op,
        k.cancelChannel(),
        k.agentChannel(agentId),
        TOMBSTONE_TTL_S,
        tasks.length,
        ...tasks,
        ...tasks.map((t) => k.taskChannel(t)),
      );
      if (result === 'retry') continue;
      if (result !== 1) return false;
      // The cross-slot bookkeeping, each step idempotent; a listing repairs the first, the reconciler the second.
      await this.redis.ghReleaseAgent(k.tenantAgents(tenantId), agentId, '', 0, 0);
      await this.ledger.idle(agentId, tenantId);
      return true;
    }
    throw new Error('the agent kept changing while it was being deleted');
  }

  async forkAgent(tenantId: string, agentId: string, maxAgents: number): Promise<AgentView | undefined> {
    if (!ID_PATTERN.test(agentId)) return undefined;
    // A consistent snapshot of the source's last checkpoint (one slot), copied into the new agent's slot.
    const [[, f], [, state]] = (await this.redis
      .multi()
      .hmget(
        this.keys.agent(agentId),
        'tenant',
        'model',
        'system',
        'sampling',
        'stateVersion',
        'tokensSeen',
        'ckpt',
      )
      .getBuffer(this.keys.agentState(agentId))
      .exec()) as [[unknown, (string | null)[]], [unknown, Buffer | null]];
    const [tenant, model, system, sampling, stateVersion, tokensSeen, ckpt] = f;
    if (tenant !== tenantId) return undefined;
    const id = newId('agt');
    await this.reserveAndCreate(
      tenantId,
      id,
      maxAgents,
      [model ?? '', system ?? '', sampling ?? '', new Date().toISOString()],
      [agentId, stateVersion ?? 0, tokensSeen ?? 0, ckpt ?? '', state ?? ''],
    );
    return this.getAgent(tenantId, id);
  }

  async submitTask(
    tenantId: string,
    agentId: string,
    task: { input: string; maxTokens: number; stop?: string[]; sampling?: Sampling },
    options: SubmitOptions = {},
  ): Promise<
    | {
        task: { id: string; agentId: string; status: 'queued' };
        segment?: AgentSegmentJob;
        replayed?: boolean;
      }
    | undefined
  > {
    if (!ID_PATTERN.test(agentId)) return undefined;
    const k = this.keys;
    const [owner, active] = await this.redis.hmget(k.agent(agentId), 'tenant', 'active');
    if (owner !== tenantId) return undefined;
    const body = JSON.stringify([task.input, task.maxTokens, task.stop ?? null, task.sampling ?? null]);
    const idempotency = options.idempotencyKey
      ? { key: k.idempotency(agentId, sha256(options.idempotencyKey)), body: sha256(body) }
      : { key: k.idempotency(agentId, '-'), body: '' };
    const inputBytes = Buffer.byteLength(task.input);
    if ((await this.storage.used(tenantId)) + inputBytes > this.maxTenantBytes) {
      // A retry of a submission that was accepted before the cap was reached still gets its task.
      const [earlier, earlierBody] = await this.redis.hmget(idempotency.key, 'taskId', 'body');
      if (idempotency.body && earlier && earlierBody === idempotency.body) {
        return { task: { id: earlier, agentId, status: 'queued' }, replayed: true };
      }
      throw new TenantStorageLimitError(this.maxTenantBytes);
    }
    const id = newTaskId(agentId);
    // An idle agent is listed (scheduling slot) before the script may activate it; see SchedulingLedger.
    let listing = active === '1' ? { listedAtMs: 0, busy: 1 } : await this.ledger.list(agentId, tenantId);
    for (let attempt = 0; attempt < 3; attempt++) {
      const [now, nowMs] = clock();
      const r = (await this.redis.ghSubmitTask(
        k.agent(agentId),
        k.mailbox(agentId),
        k.task(id),
        k.taskEvents(id),
        k.agentEvents(agentId),
        idempotency.key,
        tenantId,
        agentId,
        id,
        task.input,
        task.maxTokens,
        task.stop ? JSON.stringify(task.stop) : '',
        task.sampling ? JSON.stringify(task.sampling) : '',
        now,
        nowMs,
        k.taskChannel(id),
        k.agentChannel(agentId),
        listing.listedAtMs,
        MAX_LISTING_AGE_MS,
        idempotency.body,
        IDEMPOTENCY_TTL_S,
        this.maxQueuedTasks,
      )) as [string, string | number, number];
      switch (r[0]) {
        case 'absent':
          return undefined;
        case 'conflict':
          throw new IdempotencyConflictError();
        case 'full':
          throw new QueuedTaskLimitError(Number(r[1]));
        case 'replay':
          return { task: { id: String(r[1]), agentId, status: 'queued' }, replayed: true };
        case 'relist':
          listing = await this.ledger.list(agentId, tenantId);
          continue;
      }
      await this.storage.add(tenantId, inputBytes).catch(() => undefined);
      const accepted = { id, agentId, status: 'queued' as const };
      const seq = Number(r[2]);
      if (seq === 0) return { task: accepted };
      return { task: accepted, segment: { agentId, tenantId, seq, priority: Math.max(1, listing.busy) } };
    }
    throw new Error('the agent kept going idle while the task was submitted');
  }

  async getTask(tenantId: string, taskId: string): Promise<TaskView | undefined> {
    if (!ID_PATTERN.test(taskId)) return undefined;
    const [[, h], [, output]] = (await this.redis
      .multi()
      .hgetall(this.keys.task(taskId))
      .get(this.keys.taskOutput(taskId))
      .exec()) as [[unknown, Record<string, string>], [unknown, string | null]];
    if (h.tenant !== tenantId) return undefined;
    return taskView(h, output ?? '');
  }

  async cancelTask(
    tenantId: string,
    taskId: string,
  ): Promise<'cancelled' | 'requested' | 'final' | undefined> {
    if (!ID_PATTERN.test(taskId)) return undefined;
    const k = this.keys;
    const [tenant, agentId] = await this.redis.hmget(k.task(taskId), 'tenant', 'agentId');
    if (tenant !== tenantId || !agentId || slotTag(agentId) !== slotTag(taskId)) return undefined;
    const [now, nowMs] = clock();
    const r = (await this.redis.ghCancelTask(
      ...k.taskKeys(taskId),
      k.agent(agentId),
      k.mailbox(agentId),
      k.agentEvents(agentId),
      tenantId,
      taskId,
      agentId,
      now,
      nowMs,
      this.options.taskTtlSeconds,
      k.taskChannel(taskId),
      k.agentChannel(agentId),
      k.cancelChannel(),
      operationId(),
    )) as string;
    return r === 'absent' ? undefined : (r as 'cancelled' | 'requested' | 'final');
  }

  readTaskEvents(taskId: string, after: number, count: number): Promise<TaskEvent[]> {
    return readStream(this.redis, 'task', this.keys.taskEvents(taskId), after, count);
  }

  readAgentEvents(agentId: string, after: number, count: number): Promise<TaskEvent[]> {
    return readStream(this.redis, 'agent', this.keys.agentEvents(agentId), after, count);
  }
}
