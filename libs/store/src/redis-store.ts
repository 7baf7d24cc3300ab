import type { Redis } from 'ioredis';
import {
  ID_PATTERN,
  type AgentSegmentJob,
  type AgentView,
  type Page,
  type Sampling,
  type TaskEvent,
  type TaskView,
} from '@gooseherd/contracts';
import { AgentLimitError, type ApiStore } from './api-store.js';
import { Keys, newId } from './keys.js';
import { withScripts, type ScriptedRedis } from './lua/register.js';
import { agentView, taskView } from './records.js';
import { readStream } from './stream-read.js';

export interface RedisStoreOptions {
  prefix: string;
  /** How long finished tasks and their event logs are kept. */
  taskTtlSeconds: number;
}

/** The API's side of the store (see ApiStore). Multi-key changes run as Lua scripts, atomically. */
export class RedisStore implements ApiStore {
  readonly keys: Keys;
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly options: RedisStoreOptions,
  ) {
    this.redis = withScripts(redis);
    this.keys = new Keys(options.prefix);
  }

  private head(): [string, string] {
    return [this.options.prefix, new Date().toISOString()];
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
    const created = await this.redis.ghCreateAgent(
      ...this.head(),
      tenantId,
      id,
      input.model,
      input.system ?? '',
      input.sampling ? JSON.stringify(input.sampling) : '',
      maxAgents,
      Date.now(),
    );
    if (created === 0) throw new AgentLimitError(maxAgents);
    return (await this.getAgent(tenantId, id))!;
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
    const ids = await this.redis.zrange(
      this.keys.tenantAgents(tenantId),
      String(offset),
      String(offset + limit),
    );
    const page = ids.slice(0, limit);
    const pipeline = this.redis.pipeline();
    for (const id of page) pipeline.hgetall(this.keys.agent(id));
    const rows = (await pipeline.exec()) ?? [];
    const items = rows
      .map(([, h]) => h as Record<string, string>)
      .filter((h) => h.tenant === tenantId)
      .map((h) => agentView(h));
    return ids.length > limit ? { items, nextCursor: String(offset + limit) } : { items };
  }

  async deleteAgent(tenantId: string, agentId: string): Promise<boolean> {
    if (!ID_PATTERN.test(agentId)) return false;
    return (
      (await this.redis.ghDeleteAgent(...this.head(), tenantId, agentId, this.options.taskTtlSeconds)) === 1
    );
  }

  async forkAgent(tenantId: string, agentId: string, maxAgents: number): Promise<AgentView | undefined> {
    if (!ID_PATTERN.test(agentId)) return undefined;
    const id = newId('agt');
    const result = await this.redis.ghForkAgent(...this.head(), tenantId, agentId, id, maxAgents, Date.now());
    if (result === -1) return undefined;
    if (result === 0) throw new AgentLimitError(maxAgents);
    return this.getAgent(tenantId, id);
  }

  async submitTask(
    tenantId: string,
    agentId: string,
    task: { input: string; maxTokens: number; stop?: string[]; sampling?: Sampling },
  ): Promise<
    { task: { id: string; agentId: string; status: 'queued' }; segment?: AgentSegmentJob } | undefined
  > {
    if (!ID_PATTERN.test(agentId)) return undefined;
    const id = newId('tsk');
    const [ok, seq, priority] = (await this.redis.ghSubmitTask(
      ...this.head(),
      tenantId,
      agentId,
      id,
      task.input,
      task.maxTokens,
      task.stop ? JSON.stringify(task.stop) : '',
      task.sampling ? JSON.stringify(task.sampling) : '',
    )) as number[];
    if (ok !== 1) return undefined;
    const accepted = { id, agentId, status: 'queued' as const };
    return seq > 0 ? { task: accepted, segment: { agentId, tenantId, seq, priority } } : { task: accepted };
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
    const r = (await this.redis.ghCancelTask(
      ...this.head(),
      tenantId,
      taskId,
      this.options.taskTtlSeconds,
    )) as string;
    return r === 'absent' ? undefined : (r as 'cancelled' | 'requested' | 'final');
  }

  readTaskEvents(taskId: string, after: number, count: number): Promise<TaskEvent[]> {
    return readStream(this.redis, this.keys.taskEvents(taskId), after, count);
  }

  readAgentEvents(agentId: string, after: number, count: number): Promise<TaskEvent[]> {
    return readStream(this.redis, this.keys.agentEvents(agentId), after, count);
  }
}
