import { randomBytes } from 'node:crypto';

/**
 * The Redis key layout, in one place: every script receives its keys in `KEYS[]` from here, and no other code
 * spells a key name.
 *
 * All of one agent's keys share one hash tag, `{T}`, the 8 characters after `agt_` in the agent's id, so one
 * Lua script may touch any of them on a Redis Cluster (one hash slot). A task's id carries its agent's tag in
 * the same place (`tsk_` + T + 14 random characters), so a task's keys are found from its id alone
 * (GET /v1/tasks/{id}, cancel) and land in its agent's slot.
 *
 *   {p}:{T}:agent:{a}             HASH the agent record, its scheduling fields and its checkpoint metadata
 *   {p}:{T}:agent:{a}:state       STRING the recurrent state blob (engine state codec), fixed size per model
 *   {p}:{T}:agent:{a}:mailbox     LIST task ids waiting for the agent, head = current task
 *   {p}:{T}:agent:{a}:events      STREAM the agent's event log (all its tasks), capped
 *   {p}:{T}:agent:{a}:idem:{h}    HASH an Idempotency-Key's task and body hash (h = SHA-256 of the key), 24 h
 *   {p}:{T}:task:{t}              HASH the task record
 *   {p}:{T}:task:{t}:events       STREAM the task's event log, entry id = `{seq}-0` (see event-codec.ts)
 *   {p}:{T}:task:{t}:output       STRING the task's durable output text (APPENDed as tokens are generated)
 *   {p}:{T}:task:{t}:ids          STRING the task's output token ids, uint32 little-endian
 *
 * Keys that span agents live in other slots and are never written by an agent's script (see README.md,
 * "Consistency across slots"):
 *
 *   {p}:{tenant:{t}}:agents       ZSET agent ids by creation time (listing, the per-tenant limit)
 *   {p}:{tenant:{t}}:bytes:{day}  STRING bytes the tenant stored that day (the per-tenant storage cap)
 *   {p}:{sched}:active-agents     ZSET agents that may have work scheduled, by last listing time (reconciler)
 *   {p}:{sched}:busy:{tenant}     SET a tenant's agents with work scheduled (fair queue priority = SCARD)
 *   channels {p}:ev:t:{task}, {p}:ev:a:{agent}: "a new event with this seq exists"; {p}:cancel: task ids
 */
export class Keys {
  constructor(readonly prefix: string) {}

  private agentBase(agentId: string): string {
    return `${this.prefix}:{${slotTag(agentId)}}:agent:${agentId}`;
  }
  private taskBase(taskId: string): string {
    return `${this.prefix}:{${slotTag(taskId)}}:task:${taskId}`;
  }
  tenantAgents(tenantId: string): string {
    return `${this.prefix}:{tenant:${tenantId}}:agents`;
  }
  /** Bytes the tenant stored on one UTC day (`YYYYMMDD`). */
  tenantBytes(tenantId: string, day: string): string {
    return `${this.prefix}:{tenant:${tenantId}}:bytes:${day}`;
  }
  agent(agentId: string): string {
    return this.agentBase(agentId);
  }
  agentState(agentId: string): string {
    return `${this.agentBase(agentId)}:state`;
  }
  mailbox(agentId: string): string {
    return `${this.agentBase(agentId)}:mailbox`;
  }
  agentEvents(agentId: string): string {
    return `${this.agentBase(agentId)}:events`;
  }
  /** `keyHash`: SHA-256 (hex) of the client's Idempotency-Key. */
  idempotency(agentId: string, keyHash: string): string {
    return `${this.agentBase(agentId)}:idem:${keyHash}`;
  }
  task(taskId: string): string {
    return this.taskBase(taskId);
  }
  taskEvents(taskId: string): string {
    return `${this.taskBase(taskId)}:events`;
  }
  taskOutput(taskId: string): string {
    return `${this.taskBase(taskId)}:output`;
  }
  taskTokenIds(taskId: string): string {
    return `${this.taskBase(taskId)}:ids`;
  }
  /** The four keys of a task, in the order the scripts take them: record, events, output, ids. */
  taskKeys(taskId: string): [string, string, string, string] {
    return [this.task(taskId), this.taskEvents(taskId), this.taskOutput(taskId), this.taskTokenIds(taskId)];
  }
  activeAgents(): string {
    return `${this.prefix}:{sched}:active-agents`;
  }
  tenantBusy(tenantId: string): string {
    return `${this.prefix}:{sched}:busy:${tenantId}`;
  }
  taskChannel(taskId: string): string {
    return `${this.prefix}:ev:t:${taskId}`;
  }
  agentChannel(agentId: string): string {
    return `${this.prefix}:ev:a:${agentId}`;
  }
  cancelChannel(): string {
    return `${this.prefix}:cancel`;
  }
}

const TAG_LENGTH = 8;

/** The hash tag an agent's or a task's keys share: the 8 id characters after the `agt_`/`tsk_` kind. */
export function slotTag(id: string): string {
  return id.slice(4, 4 + TAG_LENGTH);
}

/**
 * Ids are `agt_`/`tsk_` + 22 base64url characters: safe in keys, JSON and Lua string literals. An agent's
 * id is 128 random bits; a task's id is its agent's tag + 84 random bits (`newTaskId`).
 */
export function newId(kind: 'agt' | 'tsk'): string {
  return `${kind}_${randomBytes(16).toString('base64url')}`;
}

/** A task id in its agent's hash slot: `tsk_` + the agent's tag + 14 random base64url characters. */
export function newTaskId(agentId: string): string {
  return `tsk_${slotTag(agentId)}${randomBytes(12)
    .toString('base64url')
    .slice(0, 22 - TAG_LENGTH)}`;
}
