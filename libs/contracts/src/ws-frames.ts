import { z } from 'zod';
import type { TaskEvent } from './events.js';

const seq = z.int().min(0).max(Number.MAX_SAFE_INTEGER);
const id = z.string().min(1).max(64);

/** Client → server frames on `/v1/ws`. Exactly one of taskId / agentId. */
export const SubscribeFrameSchema = z
  .strictObject({
    type: z.literal('subscribe'),
    taskId: id.optional(),
    agentId: id.optional(),
    after: seq.optional(),
  })
  .refine((f) => (f.taskId === undefined) !== (f.agentId === undefined), {
    message: 'give exactly one of taskId or agentId',
    path: ['taskId'],
  });
export const UnsubscribeFrameSchema = z
  .strictObject({ type: z.literal('unsubscribe'), taskId: id.optional(), agentId: id.optional() })
  .refine((f) => (f.taskId === undefined) !== (f.agentId === undefined), {
    message: 'give exactly one of taskId or agentId',
    path: ['taskId'],
  });
/** Authenticates a connection opened without `?token=`; must be the first frame. */
export const AuthFrameSchema = z.strictObject({ type: z.literal('auth'), token: z.string().min(1).max(512) });
export const PingFrameSchema = z.strictObject({ type: z.literal('ping') });

export type SubscribeFrame = z.infer<typeof SubscribeFrameSchema>;
export type UnsubscribeFrame = z.infer<typeof UnsubscribeFrameSchema>;
export type AuthFrame = z.infer<typeof AuthFrameSchema>;
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | AuthFrame | z.infer<typeof PingFrameSchema>;

/** Server → client frames. */
export type ServerFrame =
  | ({ type: 'event' } & TaskEvent)
  | { type: 'subscribed'; taskId?: string; agentId?: string; after: number }
  | { type: 'unsubscribed'; taskId?: string; agentId?: string }
  | { type: 'authenticated'; tenant: string }
  | { type: 'pong' }
  | { type: 'error'; code: string; message: string; field?: string };
