import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import {
  CreateAgentSchema,
  CreateTaskSchema,
  LIMITS,
  ListQuerySchema,
  type AgentView,
  type CreateAgentBody,
  type CreateTaskBody,
  type Env,
  type ListQuery,
  type Page,
  type TaskAccepted,
} from '@gooseherd/contracts';
import type { SegmentProducer } from '@gooseherd/queue';
import { AgentLimitError, type ApiStore, withRedisDeadline } from '@gooseherd/store';
import type { Principal } from '../auth/api-key-authenticator.js';
import { CurrentPrincipal } from '../http/principal.decorator.js';
import { Problems } from '../http/problem.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import type { Logger } from '../observability/logger.js';
import { API_STORE, ENV, LOGGER, SEGMENT_PRODUCER } from '../tokens.js';
import { requireId } from './resource-id.js';

const DEFAULT_PAGE_SIZE = 20;
const ENQUEUE_TIMEOUT_MS = 2_000;

@Controller('v1/agents')
export class AgentsController {
  constructor(
    @Inject(API_STORE) private readonly store: ApiStore,
    @Inject(SEGMENT_PRODUCER) private readonly producer: SegmentProducer,
    @Inject(ENV) private readonly env: Env,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Post()
  @HttpCode(201)
  async create(
    @CurrentPrincipal() { tenantId }: Principal,
    @Body(new ZodValidationPipe(CreateAgentSchema)) body: CreateAgentBody,
  ): Promise<AgentView> {
    const model = body.model ?? this.env.GOOSEHERD_MODEL_NAME;
    if (model !== this.env.GOOSEHERD_MODEL_NAME) {
      throw Problems.unprocessable(
        'model',
        `unknown model; this deployment serves "${this.env.GOOSEHERD_MODEL_NAME}"`,
      );
    }
    return this.withAgentLimit(() =>
      this.store.createAgent(
        tenantId,
        { model, system: body.system, sampling: body.sampling },
        this.env.GOOSEHERD_MAX_AGENTS_PER_TENANT,
      ),
    );
  }

  @Get()
  list(
    @CurrentPrincipal() { tenantId }: Principal,
    @Query(new ZodValidationPipe(ListQuerySchema, 'query')) query: ListQuery,
  ): Promise<Page<AgentView>> {
    return this.store.listAgents(tenantId, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Get(':id')
  async get(@CurrentPrincipal() { tenantId }: Principal, @Param('id') id: string): Promise<AgentView> {
    const agent = await this.store.getAgent(tenantId, requireId(id, 'agent'));
    if (!agent) throw Problems.notFound('agent not found');
    return agent;
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@CurrentPrincipal() { tenantId }: Principal, @Param('id') id: string): Promise<void> {
    if (!(await this.store.deleteAgent(tenantId, requireId(id, 'agent'))))
      throw Problems.notFound('agent not found');
  }

  @Post(':id/fork')
  @HttpCode(201)
  async fork(@CurrentPrincipal() { tenantId }: Principal, @Param('id') id: string): Promise<AgentView> {
    const agentId = requireId(id, 'agent');
    const fork = await this.withAgentLimit(() =>
      this.store.forkAgent(tenantId, agentId, this.env.GOOSEHERD_MAX_AGENTS_PER_TENANT),
    );
    if (!fork) throw Problems.notFound('agent not found');
    return fork;
  }

  /**
   * Stores the task; when the agent was idle, its work segment is enqueued before the 202 goes out. The task
   * is durable once stored: if the enqueue fails, the store's reconciler enqueues the segment later, so the
   * answer is still 202 (a 503 would invite a duplicate submission).
   */
  @Post(':id/tasks')
  @HttpCode(202)
  async submitTask(
    @CurrentPrincipal() { tenantId }: Principal,
    @Param('id') id: string,
    @Body(new ZodValidationPipe(CreateTaskSchema)) body: CreateTaskBody,
  ): Promise<TaskAccepted> {
    const submitted = await this.store.submitTask(tenantId, requireId(id, 'agent'), {
      input: body.input,
      maxTokens: body.maxTokens ?? LIMITS.defaultMaxTokens,
      stop: body.stop,
      sampling: body.sampling,
    });
    if (!submitted) throw Problems.notFound('agent not found');
    if (submitted.segment) {
      await withRedisDeadline(this.producer.enqueue(submitted.segment), ENQUEUE_TIMEOUT_MS, 'enqueue').catch(
        (error: Error) =>
          this.logger.warn(
            { err: error.message, agentId: submitted.task.agentId },
            'enqueue failed; the reconciler will retry',
          ),
      );
    }
    return submitted.task;
  }

  private async withAgentLimit<T>(create: () => Promise<T>): Promise<T> {
    try {
      return await create();
    } catch (error) {
      if (error instanceof AgentLimitError) throw Problems.agentLimit(error.limit);
      throw error;
    }
  }
}
