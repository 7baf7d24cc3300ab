import type { TaskEvent } from '@gooseherd/contracts';

// The shared feed hands the same event object to every follower of a log, so each event is serialized once per
// wire format, however many clients receive it.
const frames = new WeakMap<TaskEvent, string>();
const sse = new WeakMap<TaskEvent, string>();

/** The WebSocket frame `{"type":"event",…event}` as text. */
export function eventFrameText(event: TaskEvent): string {
  let text = frames.get(event);
  if (text === undefined) frames.set(event, (text = JSON.stringify({ type: 'event', ...event })));
  return text;
}

/** The Server-Sent Event (`id`, `event`, `data`) of a task event. */
export function sseEventText(event: TaskEvent): string {
  let text = sse.get(event);
  if (text === undefined)
    sse.set(event, (text = `id: ${event.seq}\nevent: ${event.kind}\ndata: ${JSON.stringify(event)}\n\n`));
  return text;
}
