import { Controller, Get, Headers, Inject, Param, Query, Res } from '@nestjs/common';
import { FINAL_TASK_STATUSES } from '@gooseherd/contracts';
import type { ApiStore } from '@gooseherd/store';
import { z } from 'zod';
import type { Principal } from '../auth/api-key-authenticator.js';
import { SseStreams } from '../events/sse-streams.js';
import type { ApiResponse } from '../http/api-request.js';
import { CurrentPrincipal } from '../http/principal.decorator.js';
import { Problems } from '../http/problem.js';
import { ZodValidationPipe } from '../http/zod-validation.pipe.js';
import { API_STORE } from '../tokens.js';
import { requireId } from './resource-id.js';

const seqText = z
  .string()
  .regex(/^\d{1,15}$/, 'expected a non-negative integer')
  .transform(Number);
const EventsQuerySchema = z.strictObject({ after: seqText.optional() });

@Controller('v1/tasks')
export class TaskEventsController {
  constructor(
    @Inject(API_STORE) private readonly store: ApiStore,
    @Inject(SseStreams) private readonly streams: SseStreams,
  ) {}

  /** Server-Sent Events; resumes after `Last-Event-ID` (or `?after=`), which is the task's event seq. */
  @Get(':id/events')
  async events(
    @CurrentPrincipal() principal: Principal,
    @Param('id') id: string,
    @Query(new ZodValidationPipe(EventsQuerySchema, 'query')) query: z.output<typeof EventsQuerySchema>,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Res() res: ApiResponse,
  ): Promise<void> {
    const taskId = requireId(id, 'task');
    let after = query.after ?? 0;
    if (lastEventId !== undefined && lastEventId.trim() !== '') {
      const parsed = seqText.safeParse(lastEventId.trim());
      if (!parsed.success)
        throw Problems.validation([{ field: 'Last-Event-ID', message: parsed.error.issues[0].message }]);
      after = parsed.data;
    }
    const task = await this.store.getTask(principal.tenantId, taskId);
    if (!task) throw Problems.notFound('task not found');
    // A final task with nothing after `after` would otherwise stream heartbeats forever.
    const finished =
      FINAL_TASK_STATUSES.includes(task.status) &&
      (await this.store.readTaskEvents(taskId, after, 1)).length === 0;
    this.streams.stream(res, principal, taskId, after, finished);
  }
}
