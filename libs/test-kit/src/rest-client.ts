import type {
  AgentView,
  CreateAgentBody,
  CreateTaskBody,
  Page,
  TaskAccepted,
  TaskStatus,
  TaskView,
} from '@gooseherd/contracts';
import { describeValue, waitFor } from './deadline.js';

export interface ApiResponse<T = unknown> {
  status: number;
  contentType: string;
  headers: Headers;
  body: T;
}

/** A response whose status was not the one the call expects; the message carries the problem details. */
export class UnexpectedStatusError extends Error {
  constructor(
    readonly request: string,
    readonly response: ApiResponse,
    expected: number,
  ) {
    super(`${request}: expected ${expected}, got ${response.status} ${describeValue(response.body)}`);
    this.name = 'UnexpectedStatusError';
  }
}

const FINAL: readonly TaskStatus[] = ['succeeded', 'failed', 'cancelled'];

/** The REST API over fetch, authenticated as one tenant (or anonymous when `apiKey` is undefined). */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly apiKey: string | undefined,
  ) {}

  /** Any request; never throws on a status, only on a network error or timeout. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    options: { timeoutMs?: number; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    const contentType = res.headers.get('content-type') ?? '';
    const text = await res.text();
    let parsed: unknown = text;
    if (/json/.test(contentType) && text.length > 0) parsed = JSON.parse(text);
    return { status: res.status, contentType, headers: res.headers, body: parsed as T };
  }

  /** A request that must answer `expected`; returns the body. */
  async expect<T>(expected: number, method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.request<T>(method, path, body);
    if (res.status !== expected) throw new UnexpectedStatusError(`${method} ${path}`, res, expected);
    return res.body;
  }

  createAgent(body: CreateAgentBody = {}): Promise<AgentView> {
    return this.expect(201, 'POST', '/v1/agents', body);
  }

  getAgent(agentId: string): Promise<AgentView> {
    return this.expect(200, 'GET', `/v1/agents/${agentId}`);
  }

  listAgents(query = ''): Promise<Page<AgentView>> {
    return this.expect(200, 'GET', `/v1/agents${query}`);
  }

  forkAgent(agentId: string): Promise<AgentView> {
    return this.expect(201, 'POST', `/v1/agents/${agentId}/fork`);
  }

  submitTask(agentId: string, body: CreateTaskBody): Promise<TaskAccepted> {
    return this.expect(202, 'POST', `/v1/agents/${agentId}/tasks`, body);
  }

  getTask(taskId: string): Promise<TaskView> {
    return this.expect(200, 'GET', `/v1/tasks/${taskId}`);
  }

  async cancelTask(taskId: string): Promise<void> {
    await this.expect(202, 'POST', `/v1/tasks/${taskId}/cancel`);
  }

  /** Waits until the task's record satisfies `done` (default: a final status) and returns that record. */
  waitForTask(
    taskId: string,
    options: { timeoutMs: number; what?: string; done?: (task: TaskView) => boolean },
  ): Promise<TaskView> {
    const done = options.done ?? ((t: TaskView) => FINAL.includes(t.status));
    return waitFor(
      async (seen) => {
        const task = await this.getTask(taskId);
        seen({ ...task, output: `(${task.output.length} chars)` });
        return done(task) && task;
      },
      { timeoutMs: options.timeoutMs, what: options.what ?? `task ${taskId} to finish`, intervalMs: 100 },
    );
  }

  /** Waits for a final status and requires it to be `succeeded`. */
  async waitForSuccess(taskId: string, timeoutMs: number): Promise<TaskView> {
    const task = await this.waitForTask(taskId, { timeoutMs });
    if (task.status !== 'succeeded') {
      throw new Error(
        `task ${taskId} ended ${task.status}: ${describeValue({ ...task, output: undefined })}`,
      );
    }
    return task;
  }
}
