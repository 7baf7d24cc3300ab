import type { OpenAPIObject } from '@nestjs/swagger';
import { CreateAgentSchema, CreateTaskSchema, LIMITS, SamplingSchema } from '@gooseherd/contracts';
import { z } from 'zod';
import {
  AgentPageSchema,
  AgentViewSchema,
  ProblemSchema,
  TaskAcceptedSchema,
  TaskCancelSchema,
  TaskEventSchema,
  TaskViewSchema,
} from './response-schemas.js';

type Json = Record<string, unknown>;

/** JSON Schema (2020-12, what OpenAPI 3.1 uses) of a zod schema; `$ref`s point into components. */
function schema(s: z.ZodType, io: 'input' | 'output' = 'output'): Json {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ 'application/json': { schema: ref(name) } });
const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const idParam = (name: string) => ({
  name: 'id',
  in: 'path',
  required: true,
  schema: { type: 'string', maxLength: 64 },
  description: name,
});

/** Problems any authenticated call may answer. */
const common = {
  '401': problem('missing or unknown API key'),
  '429': problem('rate limit exceeded (Retry-After says when to retry)'),
  '503': problem('Redis is unreachable'),
};
const withBody = {
  '400': problem('invalid field (named in `errors[].field`) or malformed JSON'),
  '413': problem(`body larger than ${LIMITS.bodyBytes} bytes`),
  '415': problem('body is not application/json'),
};
const notFound = { '404': problem("absent, or another tenant's") };

/**
 * The OpenAPI 3.1 document, built from the same zod schemas that validate requests, so the docs cannot
 * drift from what the API accepts.
 */
export function buildOpenApiDocument(modelName: string): OpenAPIObject {
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'Gooseherd API',
      version: '1',
      description:
        'Long-running agents on RWKV-7 models. Errors are RFC 9457 problem details. Live events: ' +
        '`GET /v1/tasks/{id}/events` (Server-Sent Events) or the WebSocket at `/v1/ws`.',
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } },
      schemas: {
        CreateAgent: schema(CreateAgentSchema, 'input'),
        CreateTask: schema(CreateTaskSchema, 'input'),
        Sampling: schema(SamplingSchema, 'input'),
        Agent: schema(AgentViewSchema),
        AgentPage: schema(AgentPageSchema),
        Task: schema(TaskViewSchema),
        TaskAccepted: schema(TaskAcceptedSchema),
        TaskCancel: schema(TaskCancelSchema),
        TaskEvent: schema(TaskEventSchema),
        Problem: schema(ProblemSchema),
      },
    },
    paths: {
      '/v1/agents': {
        post: {
          summary: `Create an agent (model defaults to "${modelName}")`,
          requestBody: { required: false, content: json('CreateAgent') },
          responses: {
            '201': { description: 'created', content: json('Agent') },
            ...withBody,
            '409': problem('agent limit of this tenant reached'),
            '422': problem('unknown model'),
            ...common,
          },
        },
        get: {
          summary: 'List agents',
          parameters: [
            {
              name: 'limit',
              in: 'query',
              schema: { type: 'integer', minimum: 1, maximum: LIMITS.listPageSize },
            },
            { name: 'cursor', in: 'query', schema: { type: 'string', maxLength: 64 } },
          ],
          responses: {
            '200': { description: 'a page', content: json('AgentPage') },
            '400': withBody['400'],
            ...common,
          },
        },
      },
      '/v1/agents/{id}': {
        parameters: [idParam('agent id')],
        get: {
          summary: 'Get an agent',
          responses: { '200': { description: 'the agent', content: json('Agent') }, ...notFound, ...common },
        },
        delete: {
          summary: 'Delete an agent (its queued tasks are cancelled)',
          responses: { '204': { description: 'deleted' }, ...notFound, ...common },
        },
      },
      '/v1/agents/{id}/tasks': {
        parameters: [idParam('agent id')],
        post: {
          summary: "Submit a task to the agent's mailbox",
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              schema: { type: 'string', minLength: 1, maxLength: 255 },
              description:
                'the same key and body within 24 h answer the task the first request created (202, ' +
                '`Idempotent-Replayed: true`); the same key with another body is 422',
            },
          ],
          requestBody: { required: true, content: json('CreateTask') },
          responses: {
            '202': { description: 'queued', content: json('TaskAccepted') },
            ...withBody,
            ...notFound,
            ...common,
            '422': problem('the Idempotency-Key was used with a different body'),
            '429': problem(
              'rate limit exceeded, or the agent holds GOOSEHERD_MAX_QUEUED_TASKS tasks, or the tenant stored ' +
                'GOOSEHERD_MAX_TENANT_BYTES (named in `errors[].field`)',
            ),
          },
        },
      },
      '/v1/agents/{id}/fork': {
        parameters: [idParam('agent id')],
        post: {
          summary: 'Fork an agent: a new agent with a copy of the last committed state',
          responses: {
            '201': { description: 'the new agent', content: json('Agent') },
            ...notFound,
            '409': problem('agent limit reached'),
            ...common,
          },
        },
      },
      '/v1/tasks/{id}': {
        parameters: [idParam('task id')],
        get: {
          summary: 'Get a task',
          responses: { '200': { description: 'the task', content: json('Task') }, ...notFound, ...common },
        },
      },
      '/v1/tasks/{id}/cancel': {
        parameters: [idParam('task id')],
        post: {
          summary: 'Cancel a task',
          responses: {
            '202': { description: 'cancel accepted; status now', content: json('TaskCancel') },
            ...notFound,
            ...common,
          },
        },
      },
      '/v1/tasks/{id}/events': {
        parameters: [
          idParam('task id'),
          {
            name: 'after',
            in: 'query',
            schema: { type: 'integer', minimum: 0 },
            description: 'replay events with seq > after',
          },
          {
            name: 'Last-Event-ID',
            in: 'header',
            schema: { type: 'integer', minimum: 0 },
            description: 'wins over `after`',
          },
        ],
        get: {
          summary: "Stream the task's events (Server-Sent Events)",
          description:
            'Each event has `id: <seq>`, `event: <kind>`, `data: <TaskEvent JSON>`. Stored events after the cursor are ' +
            'replayed, then live ones follow; the stream ends after completed/failed/cancelled. Comment lines are heartbeats.',
          responses: {
            '200': {
              description: 'event stream',
              content: { 'text/event-stream': { schema: ref('TaskEvent') } },
            },
            '400': withBody['400'],
            ...notFound,
            ...common,
          },
        },
      },
      '/healthz': { get: { summary: 'Liveness', security: [], responses: { '200': { description: 'up' } } } },
      '/readyz': {
        get: {
          summary: 'Readiness (Redis answers)',
          security: [],
          responses: { '200': { description: 'ready' }, '503': problem('Redis unreachable') },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics',
          security: [],
          responses: { '200': { description: 'text exposition format' } },
        },
      },
    },
  };
  return document as unknown as OpenAPIObject;
}
