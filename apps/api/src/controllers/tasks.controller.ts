import { Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type { TaskStatus, TaskView } from '@gooseherd/contracts';
import type { ApiStore } from '@gooseherd/store';
import type { Principal } from '../auth/api-key-authenticator.js';
import { CurrentPrincipal } from '../http/principal.decorator.js';
import { Problems } from '../http/problem.js';
import { API_STORE } from '../tokens.js';
import { requireId } from './resource-id.js';

@Controller('v1/tasks')
export class TasksController {
  constructor(@Inject(API_STORE) private readonly store: ApiStore) {}

  @Get(':id')
  async get(@CurrentPrincipal() { tenantId }: Principal, @Param('id') id: string): Promise<TaskView> {
    const task = await this.store.getTask(tenantId, requireId(id, 'task'));
    if (!task) throw Problems.notFound('task not found');
    return task;
  }

  /**
   * A queued task is cancelled at once; a running one is asked to stop (its status stays `running` until
   * the worker writes `cancelled`); a finished one is left as it is. The answer carries the status now.
   */
  @Post(':id/cancel')
  @HttpCode(202)
  async cancel(
    @CurrentPrincipal() { tenantId }: Principal,
    @Param('id') id: string,
  ): Promise<{ id: string; status: TaskStatus }> {
    const taskId = requireId(id, 'task');
    const outcome = await this.store.cancelTask(tenantId, taskId);
    if (!outcome) throw Problems.notFound('task not found');
    if (outcome === 'cancelled') return { id: taskId, status: 'cancelled' };
    const task = await this.store.getTask(tenantId, taskId);
    return { id: taskId, status: task?.status ?? 'cancelled' };
  }
}
