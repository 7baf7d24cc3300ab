import {
  AuthFrameSchema,
  PingFrameSchema,
  SubscribeFrameSchema,
  UnsubscribeFrameSchema,
  type AuthFrame,
  type SubscribeFrame,
  type UnsubscribeFrame,
} from '@gooseherd/contracts';
import type { z } from 'zod';
import { fieldErrors } from '../http/zod-validation.pipe.js';

export type ClientFrame = SubscribeFrame | UnsubscribeFrame | AuthFrame | { type: 'ping' };
export type FrameProblem = { code: 'invalid_json' | 'invalid_frame'; message: string; field?: string };

export type ParsedFrame = { ok: true; frame: ClientFrame } | ({ ok: false } & FrameProblem);

/** The gateway event a frame that failed to parse is routed to (its data is the FrameProblem). */
export const INVALID_FRAME_EVENT = 'invalid-frame';

const SCHEMAS = new Map<string, z.ZodType>([
  ['subscribe', SubscribeFrameSchema],
  ['unsubscribe', UnsubscribeFrameSchema],
  ['auth', AuthFrameSchema],
  ['ping', PingFrameSchema],
]);

/**
 * A received message → a validated client frame, or the error to answer with (naming the offending field).
 * Text frames arrive as strings (ws decoded and checked the UTF-8), binary frames as bytes.
 */
export function parseClientFrame(data: unknown): ParsedFrame {
  if (typeof data !== 'string')
    return { ok: false, code: 'invalid_frame', message: 'binary frames are not accepted; send JSON text' };
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return { ok: false, code: 'invalid_json', message: 'frames are JSON objects in UTF-8 text' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'invalid_frame', message: 'a frame is a JSON object with a "type"' };
  }
  const type = (value as { type?: unknown }).type;
  const schema = typeof type === 'string' ? SCHEMAS.get(type) : undefined;
  if (!schema) {
    const known = [...SCHEMAS.keys()].join(', ');
    return {
      ok: false,
      code: 'invalid_frame',
      message: `unknown frame type; expected one of ${known}`,
      field: 'type',
    };
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const [first] = fieldErrors(result.error, 'type');
    return { ok: false, code: 'invalid_frame', message: first.message, field: first.field };
  }
  return { ok: true, frame: result.data as ClientFrame };
}

/**
 * Nest's WsAdapter routes a message by `event`: a valid frame goes to the handler of its `type` with the frame
 * as data, anything else to INVALID_FRAME_EVENT with the problem as data. Every message therefore reaches
 * exactly one handler, and each gets a fresh data object (the session keys its turn on it).
 */
export function routeFrame(data: unknown): { event: string; data: ClientFrame | FrameProblem } {
  const parsed = parseClientFrame(data);
  if (parsed.ok) return { event: parsed.frame.type, data: parsed.frame };
  const { ok: _ok, ...problem } = parsed;
  return { event: INVALID_FRAME_EVENT, data: problem };
}
