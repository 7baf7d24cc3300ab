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

export type ParsedFrame =
  | { ok: true; frame: SubscribeFrame | UnsubscribeFrame | AuthFrame | { type: 'ping' } }
  | { ok: false; code: 'invalid_json' | 'invalid_frame'; message: string; field?: string };

const SCHEMAS = new Map<string, z.ZodType>([
  ['subscribe', SubscribeFrameSchema],
  ['unsubscribe', UnsubscribeFrameSchema],
  ['auth', AuthFrameSchema],
  ['ping', PingFrameSchema],
]);

/** Text frame → a validated client frame, or the error to answer with (naming the offending field). */
export function parseClientFrame(data: Buffer, isBinary: boolean): ParsedFrame {
  if (isBinary)
    return { ok: false, code: 'invalid_frame', message: 'binary frames are not accepted; send JSON text' };
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
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
  return { ok: true, frame: result.data as never };
}
