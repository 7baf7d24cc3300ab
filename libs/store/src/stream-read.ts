import type { Redis } from 'ioredis';
import type { TaskEvent } from '@gooseherd/contracts';

/** Entries of an event stream whose id (= sequence number) is > after. Entry ids are `{seq}-0`. */
export async function readStream(
  redis: Redis,
  key: string,
  after: number,
  count: number,
): Promise<TaskEvent[]> {
  const entries = await redis.xrange(key, `${after + 1}-0`, '+', 'COUNT', count);
  return entries.map(([, fields]) => JSON.parse(fields[1]) as TaskEvent);
}
