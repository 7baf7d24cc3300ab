import type { EventDataMap, EventKind, TaskEvent } from '@gooseherd/contracts';

/**
 * Checks and views over one task's events as a client received them (WebSocket or SSE), in arrival order.
 */

/** The events of `kind`, typed. */
export function ofKind<K extends EventKind>(events: TaskEvent[], kind: K): TaskEvent<K>[] {
  return events.filter((e): e is TaskEvent<K> => e.kind === kind);
}

/** Concatenation of the token deltas in arrival order: what a streaming client shows its user. */
export function streamedText(events: TaskEvent[]): string {
  return ofKind(events, 'token')
    .map((e) => (e.data as EventDataMap['token']).text)
    .join('');
}

/**
 * What is wrong with the sequence numbers of a log read from `after`: duplicates, gaps, or arrival out of
 * order. The empty list when they are exactly after+1, after+2, … in arrival order.
 */
export function sequenceProblems(events: TaskEvent[], after = 0): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  let expected = after + 1;
  for (const e of events) {
    if (seen.has(e.seq)) problems.push(`seq ${e.seq} (${e.kind}) delivered twice`);
    else if (e.seq !== expected) problems.push(`seq ${e.seq} (${e.kind}) arrived where ${expected} was due`);
    seen.add(e.seq);
    expected = Math.max(expected, e.seq + 1);
  }
  return problems;
}

/** A one-line summary of a log, for failure messages: kinds with counts, in order of first appearance. */
export function summarize(events: TaskEvent[]): string {
  const runs: string[] = [];
  let last = '';
  let count = 0;
  for (const e of events) {
    if (e.kind === last) {
      count += 1;
      continue;
    }
    if (last) runs.push(count > 1 ? `${last}×${count}` : last);
    last = e.kind;
    count = 1;
  }
  if (last) runs.push(count > 1 ? `${last}×${count}` : last);
  return `${events.length} events: ${runs.join(', ')}`;
}
