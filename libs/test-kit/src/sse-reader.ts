import type { TaskEvent } from '@gooseherd/contracts';
import { DeadlineError } from './deadline.js';

/** One server-sent event as it came over the wire, and the task event its data holds. */
export interface SseMessage {
  id: string | undefined;
  event: string | undefined;
  data: string;
  taskEvent: TaskEvent;
}

export interface SseReadResult {
  status: number;
  contentType: string;
  messages: SseMessage[];
  /** Why reading stopped. */
  end: 'final-event' | 'count' | 'stream-closed' | 'timeout';
}

const FINAL_KINDS = new Set(['completed', 'failed', 'cancelled']);

/** One server-sent event: its fields as sent (`data` lines joined with newlines). */
export interface ServerSentEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * The event-stream format, incrementally: feed decoded text as it arrives, get back each event completed by it
 * (a blank line ends an event; comments and events without data are dropped; LF or CRLF line ends).
 */
export class SseParser {
  private buffer = '';
  private fields: { id?: string; event?: string; data: string[] } = { data: [] };

  push(text: string): ServerSentEvent[] {
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    let newline: number;
    while ((newline = this.buffer.search(/\r?\n/)) >= 0) {
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(this.buffer[newline] === '\r' ? newline + 2 : newline + 1);
      if (line === '') {
        if (this.fields.data.length > 0) {
          const { id, event } = this.fields;
          events.push({
            ...(id !== undefined && { id }),
            ...(event !== undefined && { event }),
            data: this.fields.data.join('\n'),
          });
        }
        this.fields = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'id') this.fields.id = value;
      else if (name === 'event') this.fields.event = value;
      else if (name === 'data') this.fields.data.push(value);
    }
    return events;
  }
}

/**
 * Reads `GET /v1/tasks/{id}/events` as a stream of server-sent events until the task's final event, `count`
 * events, the server closing the stream, or `timeoutMs` (the result then says 'timeout'; nothing throws).
 * `lastEventId` is sent as the Last-Event-ID header. A non-200 answer is returned with no messages.
 */
export async function readTaskEventStream(
  baseUrl: string,
  apiKey: string,
  taskId: string,
  options: { timeoutMs: number; lastEventId?: number; count?: number },
): Promise<SseReadResult> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DeadlineError('SSE events', options.timeoutMs, '')),
    options.timeoutMs,
  );
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' };
  if (options.lastEventId !== undefined) headers['last-event-id'] = String(options.lastEventId);
  const messages: SseMessage[] = [];
  let status = 0;
  let contentType = '';
  try {
    const res = await fetch(`${baseUrl}/v1/tasks/${taskId}/events`, { headers, signal: controller.signal });
    status = res.status;
    contentType = res.headers.get('content-type') ?? '';
    if (status !== 200 || !res.body) {
      await res.body?.cancel();
      return { status, contentType, messages, end: 'stream-closed' };
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (const { id, event, data } of parser.push(decoder.decode(value, { stream: true }))) {
        const parsed = JSON.parse(data) as Partial<TaskEvent>;
        const taskEvent = {
          ...parsed,
          seq: parsed.seq ?? Number(id),
          kind: parsed.kind ?? event,
        } as TaskEvent;
        messages.push({ id, event, data, taskEvent });
        const final = FINAL_KINDS.has(taskEvent.kind);
        if (final || (options.count !== undefined && messages.length >= options.count)) {
          await reader.cancel().catch(() => undefined);
          return { status, contentType, messages, end: final ? 'final-event' : 'count' };
        }
      }
    }
    return { status, contentType, messages, end: 'stream-closed' };
  } catch (err) {
    if (controller.signal.aborted && controller.signal.reason instanceof DeadlineError) {
      return { status, contentType, messages, end: 'timeout' };
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
