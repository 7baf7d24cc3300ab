import { randomBytes } from 'node:crypto';

/**
 * The Redis key layout, in one place. Lua scripts derive the same names from the prefix (see lua/common.ts),
 * so a change here must be mirrored there.
 *
 *   {p}:tenant:{t}:agents     ZSET agent ids by creation time (listing, the per-tenant limit)
 *   {p}:agent:{a}             HASH the agent record, its scheduling fields and its checkpoint metadata
 *   {p}:agent:{a}:state       STRING the recurrent state blob (engine state codec), fixed size per model
 *   {p}:agent:{a}:mailbox     LIST task ids waiting for the agent, head = current task
 *   {p}:agent:{a}:events      STREAM the agent's event log (all its tasks), capped
 *   {p}:task:{t}              HASH the task record
 *   {p}:task:{t}:events       STREAM the task's event log, entry id = `{seq}-0`
 *   {p}:task:{t}:output       STRING the task's durable output text (APPENDed as tokens are generated)
 *   {p}:task:{t}:ids          STRING the task's output token ids, uint32 little-endian
 *   {p}:active-agents         SET agents with work scheduled (the reconciler's worklist)
 *   {p}:tenant-depth          HASH tenant → agents with work scheduled (fair queue priority)
 *   channels {p}:ev:t:{task}, {p}:ev:a:{agent}: "a new event with this seq exists"; {p}:cancel: task ids
 */
export class Keys {
  constructor(readonly prefix: string) {}
  tenantAgents(tenantId: string): string {
    return `${this.prefix}:tenant:${tenantId}:agents`;
  }
  agent(agentId: string): string {
    return `${this.prefix}:agent:${agentId}`;
  }
  agentState(agentId: string): string {
    return `${this.prefix}:agent:${agentId}:state`;
  }
  mailbox(agentId: string): string {
    return `${this.prefix}:agent:${agentId}:mailbox`;
  }
  agentEvents(agentId: string): string {
    return `${this.prefix}:agent:${agentId}:events`;
  }
  task(taskId: string): string {
    return `${this.prefix}:task:${taskId}`;
  }
  taskEvents(taskId: string): string {
    return `${this.prefix}:task:${taskId}:events`;
  }
  taskOutput(taskId: string): string {
    return `${this.prefix}:task:${taskId}:output`;
  }
  taskTokenIds(taskId: string): string {
    return `${this.prefix}:task:${taskId}:ids`;
  }
  activeAgents(): string {
    return `${this.prefix}:active-agents`;
  }
  tenantDepth(): string {
    return `${this.prefix}:tenant-depth`;
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

/** Ids are `agt_`/`tsk_` + 22 base64url characters: safe in keys, JSON and Lua string literals. */
export function newId(kind: 'agt' | 'tsk'): string {
  return `${kind}_${randomBytes(16).toString('base64url')}`;
}
