import type { TaskEvent } from '@gooseherd/contracts';

/**
 * How events are stored in a Redis Stream (written by lua/includes/events.lua), and read back as the events
 * clients see. Pure: no I/O.
 *
 * Every entry has one field, `e`. An event other than a token is its JSON object, at entry id `{position}-0`.
 * A batch of n token events (one appendTokens call) is ONE entry at the id of its LAST position, holding a JSON
 * array: the task's stream `[firstTokensOut, firstAgentSeq, atMs, text1, …, textN]`, the agent's stream
 * `[firstTokensOut, firstSeq, atMs, taskId, agentId, text1, …, textN]`. The ids, the time and the per-token
 * fields are stored once per batch instead of once per token; clients still get one event per token, each with
 * its own `seq`, so resuming at any token is exact.
 */
export type StreamKind = 'task' | 'agent';

/** What the task stream's token entries leave out: the ids, taken from the stream's first event. */
export interface TaskStreamContext {
  taskId: string;
  agentId: string;
}

type Entry = [id: string, fields: string[]];

function tokenEvent(
  seq: number,
  agentSeq: number,
  taskId: string,
  agentId: string,
  text: string,
  tokensOut: number,
  at: string,
): TaskEvent {
  // Same key order as the events the scripts write as JSON, so a client sees the same bytes either way.
  return { seq, taskId, agentId, kind: 'token', data: { text, tokensOut }, agentSeq, at };
}

/** The events one entry holds, oldest first. */
export function decodeEntry(
  kind: StreamKind,
  [id, fields]: Entry,
  context: TaskStreamContext | undefined,
): TaskEvent[] {
  const value = fields[1];
  if (value[0] !== '[') return [JSON.parse(value) as TaskEvent];
  const last = Number(id.slice(0, id.indexOf('-')));
  const batch = JSON.parse(value) as (number | string)[];
  const [firstOut, firstOther, atMs] = batch as number[];
  const at = new Date(atMs).toISOString();
  const events: TaskEvent[] = [];
  if (kind === 'task') {
    if (!context) throw new Error('a task stream token entry needs the stream context');
    const texts = batch.slice(3) as string[];
    const first = last - texts.length + 1;
    texts.forEach((text, i) =>
      events.push(
        tokenEvent(first + i, firstOther + i, context.taskId, context.agentId, text, firstOut + i, at),
      ),
    );
  } else {
    const [taskId, agentId] = batch.slice(3, 5) as string[];
    const texts = batch.slice(5) as string[];
    const first = last - texts.length + 1;
    texts.forEach((text, i) =>
      events.push(tokenEvent(firstOther + i, first + i, taskId, agentId, text, firstOut + i, at)),
    );
  }
  return events;
}

/** The position an event has in a stream of this kind (its entry id). */
export function positionIn(kind: StreamKind, event: TaskEvent): number {
  return kind === 'task' ? event.seq : event.agentSeq;
}

/**
 * Events at positions > after, oldest first, at most `count`, from entries read with XRANGE from `after + 1`
 * (the first of them may hold earlier positions too). `first` is the stream's first entry (for a task stream's
 * ids).
 */
export function decodeEntries(
  kind: StreamKind,
  entries: Entry[],
  after: number,
  count: number,
  first?: Entry,
): TaskEvent[] {
  let context: TaskStreamContext | undefined;
  if (kind === 'task' && first && first[1][1][0] === '{') {
    const head = JSON.parse(first[1][1]) as TaskEvent;
    context = { taskId: head.taskId, agentId: head.agentId };
  }
  const out: TaskEvent[] = [];
  for (const entry of entries) {
    for (const event of decodeEntry(kind, entry, context)) {
      if (positionIn(kind, event) <= after) continue;
      out.push(event);
      if (out.length === count) return out;
    }
  }
  return out;
}
