import type { TaskEvent } from '@gooseherd/contracts';
import { decodeEntries, type StreamKind } from './event-codec.js';
import type { RedisClient } from './lua/scripts.js';

type Entry = [string, string[]];

/**
 * Events of a stream whose position (seq for a task's stream, agentSeq for an agent's) is > after, at most
 * `count`, oldest first. Exactly `count` events come back while more exist (a batch entry is cut where the
 * count ends; the next read starts inside it). One round trip: the stream's first entry (a task's `queued`
 * event, which names its task and agent) comes with the range.
 */
export async function readStream(
  redis: RedisClient,
  kind: StreamKind,
  key: string,
  after: number,
  count: number,
): Promise<TaskEvent[]> {
  const replies = (await redis
    .multi()
    .xrange(key, '-', '+', 'COUNT', 1)
    .xrange(key, `${after + 1}-0`, '+', 'COUNT', count)
    .exec()) as [Error | null, Entry[]][] | null;
  if (!replies) throw new Error('stream read aborted');
  for (const [error] of replies) if (error) throw error;
  const [[, head], [, entries]] = replies;
  return decodeEntries(kind, entries, after, count, kind === 'task' ? head[0] : undefined);
}
