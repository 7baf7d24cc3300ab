import fc from 'fast-check';
import { ID_PATTERN } from '@gooseherd/contracts';
import { anyJsonText, setOwn } from './arbitraries';

/**
 * Client frames for `/v1/ws`, each with what the server must answer. Frames are handled one at a time in
 * arrival order and each gets exactly one answer frame (events of subscriptions come besides), so a batch
 * of frames can be checked answer by answer.
 */
export interface FrameCase {
  describe: string;
  data: string | Buffer;
  binary?: boolean;
  expect: Expected;
}

export type Expected =
  /** An error frame with this code naming this field (undefined: no field expected). */
  | { error: string; field?: string }
  /** A frame of this type (pong, subscribed, unsubscribed). */
  | { type: string }
  /** Either: the answer to a frame of unknown content. `object` says it was a JSON object (so an error names a field). */
  | { anyAnswer: true; object: boolean };

/** Ids the frames refer to: the tenant's own (subscribable), another tenant's, and ones that do not exist. */
export interface IdPool {
  ownTasks: string[];
  ownAgents: string[];
  foreign: string[];
}

const MAX_SEQ = Number.MAX_SAFE_INTEGER;
const PING = '{"type":"ping"}';

const junkId = fc.oneof(
  fc.stringMatching(ID_PATTERN),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }).filter((s) => s.length <= 64),
);

function frame(value: Record<string, unknown>): string {
  return JSON.stringify(value);
}

/** Valid frames whose answer is known: ping, subscribe (own → subscribed, other → not_found), unsubscribe, auth. */
export function validFrames(pool: IdPool): fc.Arbitrary<FrameCase> {
  const target = fc.constantFrom<'taskId' | 'agentId'>('taskId', 'agentId');
  const after = fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined });
  return fc.oneof(
    fc.constant<FrameCase>({ describe: 'ping', data: PING, expect: { type: 'pong' } }),
    fc.tuple(fc.constantFrom(...pool.ownTasks), after).map(([id, seq]) => ({
      describe: `subscribe to own task ${id}`,
      data: frame({ type: 'subscribe', taskId: id, ...(seq === undefined ? {} : { after: seq }) }),
      expect: { type: 'subscribed' },
    })),
    fc.tuple(fc.constantFrom(...pool.ownAgents), after).map(([id, seq]) => ({
      describe: `subscribe to own agent ${id}`,
      data: frame({ type: 'subscribe', agentId: id, ...(seq === undefined ? {} : { after: seq }) }),
      expect: { type: 'subscribed' },
    })),
    fc.tuple(target, fc.oneof(fc.constantFrom(...pool.foreign), junkId), after).map(([field, id, seq]) => ({
      describe: `subscribe to ${field} ${JSON.stringify(id)} (not ours)`,
      data: frame({ type: 'subscribe', [field]: id, ...(seq === undefined ? {} : { after: seq }) }),
      expect: { error: 'not_found', field },
    })),
    fc.tuple(target, fc.oneof(fc.constantFrom(...pool.foreign), junkId)).map(([field, id]) => ({
      describe: `unsubscribe ${field} ${JSON.stringify(id)} (never subscribed)`,
      data: frame({ type: 'unsubscribe', [field]: id }),
      expect: { error: 'not_subscribed', field },
    })),
    fc.string({ minLength: 1, maxLength: 512 }).map((token) => ({
      describe: 'auth again',
      data: frame({ type: 'auth', token }),
      expect: { error: 'invalid_frame', field: 'type' },
    })),
  );
}

const anyJson = fc.jsonValue({ maxDepth: 2 });

/** A valid frame with one field broken: the error must name that field. */
export function nearValidFrames(pool: IdPool): fc.Arbitrary<FrameCase> {
  const id = fc.oneof(fc.constantFrom(...pool.ownTasks, ...pool.ownAgents), junkId);
  const target = fc.constantFrom('taskId', 'agentId');
  const badId = fc.oneof(
    fc.constant<unknown>(''),
    fc.integer({ min: 65, max: 200 }).map((n) => 'i'.repeat(n)),
    anyJson.filter((v) => typeof v !== 'string'),
  );
  const badSeq = fc.oneof(
    fc.integer({ max: -1 }),
    fc.double({ min: 0, max: 1e6, noNaN: true }).filter((v) => !Number.isInteger(v)),
    fc.constantFrom(MAX_SEQ + 2, 1e300, -1e300),
    anyJson.filter((v) => typeof v !== 'number'),
  );
  const extraKey = (known: string[]) =>
    fc.string({ unit: 'binary', maxLength: 10 }).filter((k) => !known.includes(k));
  const broken = (describe: string, value: Record<string, unknown>, field: string): FrameCase => ({
    describe,
    data: frame(value),
    expect: { error: 'invalid_frame', field },
  });
  return fc.oneof(
    fc
      .tuple(fc.constantFrom('subscribe', 'unsubscribe'), target, badId)
      .map(([type, field, bad]) =>
        broken(`${type} with ${field} ${JSON.stringify(bad)?.slice(0, 60)}`, { type, [field]: bad }, field),
      ),
    fc
      .tuple(target, id, badSeq)
      .map(([field, good, seq]) =>
        broken(
          `subscribe after ${JSON.stringify(seq)?.slice(0, 60)}`,
          { type: 'subscribe', [field]: good, after: seq },
          'after',
        ),
      ),
    fc
      .tuple(fc.constantFrom('subscribe', 'unsubscribe'), id, id)
      .map(([type, a, b]) => broken(`${type} with both ids`, { type, taskId: a, agentId: b }, 'taskId')),
    fc
      .constantFrom('subscribe', 'unsubscribe')
      .map((type) => broken(`${type} without an id`, { type }, 'taskId')),
    fc
      .tuple(
        fc.constantFrom('subscribe', 'unsubscribe'),
        target,
        id,
        extraKey(['type', 'taskId', 'agentId', 'after']),
        anyJson,
      )
      .map(([type, field, good, key, value]) => {
        const body: Record<string, unknown> = { type, [field]: good };
        setOwn(body, key, value);
        return broken(`${type} with extra ${JSON.stringify(key)}`, body, key);
      }),
    fc.tuple(extraKey(['type']), anyJson).map(([key, value]) => {
      const body: Record<string, unknown> = { type: 'ping' };
      setOwn(body, key, value);
      return broken(`ping with extra ${JSON.stringify(key)}`, body, key);
    }),
    fc
      .oneof(
        fc.constant<unknown>(''),
        fc.constant<unknown>('t'.repeat(513)),
        anyJson.filter((v) => typeof v !== 'string'),
      )
      .map((token) =>
        broken(`auth with token ${JSON.stringify(token)?.slice(0, 40)}`, { type: 'auth', token }, 'token'),
      ),
    fc
      .oneof(
        fc.string({ maxLength: 12 }).filter((t) => !['subscribe', 'unsubscribe', 'auth', 'ping'].includes(t)),
        anyJson.filter((v) => typeof v !== 'string'),
      )
      .map((type) => broken(`type ${JSON.stringify(type)?.slice(0, 40)}`, { type, taskId: 'x' }, 'type')),
    fc.constant(broken('no type', { taskId: 'x' }, 'type')),
  );
}

/** Anything: arbitrary JSON text, arbitrary strings, binary frames. */
export const junkFrames: fc.Arbitrary<FrameCase> = fc.oneof(
  anyJsonText.map((data) => {
    const value = JSON.parse(data) as unknown;
    const object = typeof value === 'object' && value !== null && !Array.isArray(value);
    return { describe: 'JSON value', data, expect: { anyAnswer: true as const, object } };
  }),
  fc.string({ unit: 'binary', maxLength: 200 }).map((data) => {
    let object = false;
    try {
      const value = JSON.parse(data) as unknown;
      object = typeof value === 'object' && value !== null && !Array.isArray(value);
    } catch {
      return { describe: 'text', data, expect: { error: 'invalid_json' } };
    }
    return { describe: 'text that parses', data, expect: { anyAnswer: true as const, object } };
  }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => ({
    describe: 'binary frame',
    data: Buffer.from(bytes),
    binary: true,
    expect: { error: 'invalid_frame' },
  })),
);
