import type { TaskEvent } from '@gooseherd/contracts';
import { STREAM_LIMITS } from './stream-limits.js';

/** Whether an event was stored before a subscription that began at `subscribedAt` (it is replayed history). */
export function isReplayed(event: TaskEvent, subscribedAt: number): boolean {
  const at = Date.parse(event.at);
  return Number.isFinite(at) && at < subscribedAt - STREAM_LIMITS.replayClockSlackMs;
}
