import fc from 'fast-check';
import { ID_PATTERN, LIMITS, SAMPLING_RANGES as R } from '@gooseherd/contracts';

/**
 * fast-check arbitraries for the API's inputs: valid bodies drawn from the contracts' limits, near-valid ones
 * (a valid body with exactly one field mutated, so the field the API must name is known), and junk.
 */

/** `GOOSEHERD_E2E_LONG=1` multiplies the number of runs. */
export function runs(ci: number): number {
  return process.env.GOOSEHERD_E2E_LONG === '1' ? ci * 10 : ci;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Sets an own property, also one named `__proto__` (plain assignment would set the prototype). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Deep copy of a JSON value that keeps `__proto__` keys as own properties. */
export function cloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

// ── valid values ────────────────────────────────────────────────────────────────────────────────────────────

const ranged = (name: keyof typeof R) =>
  fc.oneof(
    fc.double({ min: R[name][0], max: R[name][1], noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(R[name][0], R[name][1]),
  );

/** Any value of 0 … 2^32-1 (fc.integer stops at 2^31-1). */
const uint32 = fc
  .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }))
  .map(([hi, lo]) => hi * 0x10000 + lo);

/** Strings of at most `max` UTF-16 units: any code points (lone surrogates too), sometimes exactly `max` long. */
export function text(min: number, max: number, typical = 40): fc.Arbitrary<string> {
  return fc
    .oneof(
      {
        weight: 8,
        arbitrary: fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(typical, max) }),
      },
      { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: min, maxLength: typical }) },
      { weight: 1, arbitrary: fc.constant('x'.repeat(max)) },
    )
    .filter((s) => s.length >= min && s.length <= max);
}

/**
 * A valid sampling block. `tokenIds` bounds logitBias keys: the schema accepts any id below 65,536, but a model
 * has a finite vocabulary (pass its logits length to draw only ids a worker can apply).
 */
export function validSampling(tokenIds?: number): fc.Arbitrary<Record<string, unknown>> {
  const key = tokenIds
    ? fc.integer({ min: 0, max: tokenIds - 1 }).map(String)
    : fc.integer({ min: 0, max: 65_535 }).map(String);
  return fc.record(
    {
      temperature: ranged('temperature'),
      topP: ranged('topP'),
      topK: fc.integer({ min: R.topK[0], max: R.topK[1] }),
      presencePenalty: ranged('presencePenalty'),
      frequencyPenalty: ranged('frequencyPenalty'),
      penaltyDecay: ranged('penaltyDecay'),
      logitBias: fc.dictionary(key, ranged('logitBias'), { maxKeys: LIMITS.logitBiasEntries }),
      seed: uint32,
    },
    { requiredKeys: [] },
  );
}

export function validCreateAgent(modelName: string): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    { model: fc.constant(modelName), system: text(0, LIMITS.systemChars), sampling: validSampling() },
    { requiredKeys: [] },
  );
}

export interface TaskShape {
  /** Largest maxTokens drawn (the schema allows LIMITS.maxTokens; tests that run tasks draw fewer). */
  maxTokens?: number;
  /** Longest input drawn. */
  inputChars?: number;
  /** Vocabulary size for logitBias keys (see validSampling). */
  tokenIds?: number;
}

export function validCreateTask(shape: TaskShape = {}): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      input: text(1, shape.inputChars ?? LIMITS.inputChars),
      maxTokens: fc.integer({ min: 1, max: shape.maxTokens ?? LIMITS.maxTokens }),
      stop: fc.array(text(1, LIMITS.stopStringChars, 8), { maxLength: LIMITS.stopStrings }),
      sampling: validSampling(shape.tokenIds),
    },
    { requiredKeys: ['input'] },
  );
}

// ── one-field mutations ─────────────────────────────────────────────────────────────────────────────────────

/** A mutation of one field and what the API must answer: the status and the field its errors must name. */
export interface Mutation {
  describe: string;
  apply(body: Record<string, unknown>): Record<string, unknown>;
  status: number;
  field: string;
}

type FieldSpec =
  | { kind: 'number'; min: number; max: number; int?: boolean }
  | { kind: 'string'; min: number; max: number }
  | { kind: 'object' }
  | { kind: 'array' };

const SAMPLING_FIELDS: Record<string, FieldSpec> = {
  temperature: { kind: 'number', min: R.temperature[0], max: R.temperature[1] },
  topP: { kind: 'number', min: R.topP[0], max: R.topP[1] },
  topK: { kind: 'number', min: R.topK[0], max: R.topK[1], int: true },
  presencePenalty: { kind: 'number', min: R.presencePenalty[0], max: R.presencePenalty[1] },
  frequencyPenalty: { kind: 'number', min: R.frequencyPenalty[0], max: R.frequencyPenalty[1] },
  penaltyDecay: { kind: 'number', min: R.penaltyDecay[0], max: R.penaltyDecay[1] },
  seed: { kind: 'number', min: R.seed[0], max: R.seed[1], int: true },
  logitBias: { kind: 'object' },
};

export const AGENT_FIELDS: Record<string, FieldSpec> = {
  model: { kind: 'string', min: 1, max: LIMITS.modelNameChars },
  system: { kind: 'string', min: 0, max: LIMITS.systemChars },
  sampling: { kind: 'object' },
};

export const TASK_FIELDS: Record<string, FieldSpec> = {
  input: { kind: 'string', min: 1, max: LIMITS.inputChars },
  maxTokens: { kind: 'number', min: 1, max: LIMITS.maxTokens, int: true },
  stop: { kind: 'array' },
  sampling: { kind: 'object' },
};

const anyJson = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;

/** Values of another JSON type than `spec` accepts (null included: optional fields are not nullable). */
function wrongType(spec: FieldSpec): fc.Arbitrary<Json> {
  const accepts = (v: Json) =>
    spec.kind === 'number'
      ? typeof v === 'number'
      : spec.kind === 'string'
        ? typeof v === 'string'
        : spec.kind === 'array'
          ? Array.isArray(v)
          : typeof v === 'object' && v !== null && !Array.isArray(v);
  return fc
    .oneof(anyJson, fc.constantFrom<Json>(null, true, false, [], {}, '', '1', 0, [1], { x: 1 }))
    .filter((v) => !accepts(v));
}

/** Values of the right type outside the accepted range. */
function outOfRange(spec: FieldSpec): fc.Arbitrary<Json> | undefined {
  if (spec.kind === 'number') {
    const below = fc.double({ max: spec.min, maxExcluded: true, noNaN: true, noDefaultInfinity: true });
    const above = fc.double({ min: spec.max, minExcluded: true, noNaN: true, noDefaultInfinity: true });
    const edges = fc.constantFrom(spec.min - 1, spec.max + 1, -1e308, 1e308, Number.MAX_SAFE_INTEGER + 2);
    const fraction = spec.int
      ? [fc.double({ min: spec.min, max: spec.max, noNaN: true }).filter((v) => !Number.isInteger(v))]
      : [];
    // -0 and values that round back into range are not invalid: keep only what the schema must refuse.
    const valid = (v: number) => v >= spec.min && v <= spec.max && (!spec.int || Number.isInteger(v));
    return fc.oneof(below, above, edges, ...fraction).filter((v) => !valid(v));
  }
  if (spec.kind === 'string') {
    const tooLong = fc.integer({ min: spec.max + 1, max: spec.max + 64 }).map((n) => 'y'.repeat(n));
    return spec.min > 0 ? fc.oneof(tooLong, fc.constant('')) : tooLong;
  }
  return undefined;
}

function setField(
  path: string[],
  value: unknown,
): (body: Record<string, unknown>) => Record<string, unknown> {
  return (body) => {
    const copy = cloneJson(body);
    let target = copy;
    for (const key of path.slice(0, -1)) {
      if (typeof target[key] !== 'object' || target[key] === null) setOwn(target, key, {});
      target = target[key] as Record<string, unknown>;
    }
    setOwn(target, path[path.length - 1], value);
    return copy;
  };
}

function fieldMutations(prefix: string[], fields: Record<string, FieldSpec>): fc.Arbitrary<Mutation>[] {
  return Object.entries(fields).flatMap(([name, spec]) => {
    const path = [...prefix, name];
    const field = path.join('.');
    const mutate = (how: string) => (value: Json) => ({
      describe: `${field} ${how} ${JSON.stringify(value)?.slice(0, 80)}`,
      apply: setField(path, value),
      status: 400,
      field,
    });
    const out: fc.Arbitrary<Mutation>[] = [wrongType(spec).map(mutate('of the wrong type:'))];
    const range = outOfRange(spec);
    if (range) out.push(range.map(mutate('out of range:')));
    return out;
  });
}

/** An extra key, at the top level or inside `sampling`, that the strict schemas refuse. */
function extraField(known: string[]): fc.Arbitrary<Mutation> {
  return fc
    .tuple(fc.boolean(), fc.string({ unit: 'binary', minLength: 0, maxLength: 12 }), anyJson)
    .filter(([inSampling, key]) => !(inSampling ? Object.keys(SAMPLING_FIELDS) : known).includes(key))
    .map(([inSampling, key, value]) => {
      const path = inSampling ? ['sampling', key] : [key];
      return {
        describe: `extra field ${JSON.stringify(path)}`,
        apply: setField(path, value),
        status: 400,
        field: path.join('.'),
      };
    });
}

/** logitBias: a key that is no token id, a bias out of range, or too many entries. */
const logitBiasMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc
    .string({ unit: 'binary', maxLength: 8 })
    // zod's record drops a `__proto__` key instead of refusing it (abuse-cases specifies that separately).
    .filter((k) => !/^\d{1,6}$/.test(k) && k !== '__proto__')
    .map((key) => ({
      describe: `logitBias key ${JSON.stringify(key)}`,
      apply: setField(
        ['sampling', 'logitBias'],
        Object.defineProperty({}, key, { value: 1, enumerable: true }),
      ),
      status: 400,
      field: `sampling.logitBias.${key}`,
    })),
  fc
    .tuple(fc.stringMatching(/^\d{1,6}$/), outOfRange({ kind: 'number', min: -100, max: 100 })!)
    .map(([key, bias]) => ({
      describe: `logitBias ${key}: ${bias}`,
      apply: setField(['sampling', 'logitBias'], { [key]: bias }),
      status: 400,
      field: `sampling.logitBias.${key}`,
    })),
  fc.integer({ min: LIMITS.logitBiasEntries + 1, max: 200 }).map((n) => ({
    describe: `${n} logitBias entries`,
    apply: setField(
      ['sampling', 'logitBias'],
      Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), 1])),
    ),
    status: 400,
    field: 'sampling.logitBias',
  })),
);

/** stop: too many strings, or one string empty, too long or not a string. */
const stopMutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.integer({ min: LIMITS.stopStrings + 1, max: 40 }).map((n) => ({
    describe: `${n} stop strings`,
    apply: setField(
      ['stop'],
      Array.from({ length: n }, (_, i) => `s${i}`),
    ),
    status: 400,
    field: 'stop',
  })),
  fc
    .tuple(
      fc.integer({ min: 0, max: LIMITS.stopStrings - 1 }),
      fc.oneof(
        fc.constant<Json>(''),
        fc.constant<Json>('z'.repeat(LIMITS.stopStringChars + 1)),
        wrongType({ kind: 'string', min: 1, max: LIMITS.stopStringChars }),
      ),
    )
    .map(([index, bad]) => ({
      describe: `stop[${index}] = ${JSON.stringify(bad)?.slice(0, 80)}`,
      apply: setField(['stop'], [...Array.from({ length: index }, () => 'ok'), bad]),
      status: 400,
      field: `stop.${index}`,
    })),
);

export function agentMutation(modelName: string): fc.Arbitrary<Mutation> {
  return fc.oneof(
    ...fieldMutations([], AGENT_FIELDS),
    ...fieldMutations(['sampling'], SAMPLING_FIELDS),
    logitBiasMutation,
    extraField(Object.keys(AGENT_FIELDS)),
    text(1, LIMITS.modelNameChars)
      .filter((name) => name !== modelName)
      .map((name) => ({
        describe: `unknown model ${JSON.stringify(name).slice(0, 80)}`,
        apply: setField(['model'], name),
        status: 422,
        field: 'model',
      })),
  );
}

export function taskMutation(): fc.Arbitrary<Mutation> {
  return fc.oneof(
    ...fieldMutations([], TASK_FIELDS),
    ...fieldMutations(['sampling'], SAMPLING_FIELDS),
    logitBiasMutation,
    stopMutation,
    extraField(Object.keys(TASK_FIELDS)),
    fc.constant<Mutation>({
      describe: 'input left out',
      apply: (body) => {
        const copy = cloneJson(body);
        delete copy.input;
        return copy;
      },
      status: 400,
      field: 'input',
    }),
  );
}

// ── junk ────────────────────────────────────────────────────────────────────────────────────────────────────

/** Any JSON value, as text. */
export const anyJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify({ input: v })),
  fc.object({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
);

/** Random bytes, and valid JSON text with a few bytes overwritten (mostly broken JSON or broken UTF-8). */
export function junkBytes(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 600 }).map((b) => Buffer.from(b)),
    fc
      .tuple(
        valid,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      )
      .map(([body, edits]) => {
        const bytes = Buffer.from(JSON.stringify(body), 'utf8');
        for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
        return bytes;
      }),
  );
}

/** Content types a client might send; the API takes JSON types in UTF-8 only (else 415). */
export const contentTypes: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset="UTF-8"',
    'application/json; charset=latin1',
    'application/problem+json',
    'application/vnd.api+json',
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/json;;;',
    '',
  ),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }).filter((s) => /^[\t\x20-\x7e]*$/.test(s)),
);

/** Ids for path segments: real-looking ids, ids of other shapes, and anything at all, percent-encoded. */
export const junkIdSegment: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(ID_PATTERN),
  fc.stringMatching(/^[\w-]{1,80}$/),
  fc.string({ unit: 'binary', maxLength: 100 }).map(encodeURIComponent),
  // Raw URL characters, stray percent signs and dot segments, unencoded.
  fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@/-]{0,40}$/),
  fc.constantFrom(
    '.',
    '..',
    '%',
    '%ZZ',
    '%E0%A4%A',
    '%C0%AF',
    '%00',
    '%2F',
    '%2e%2e',
    ' '.replace(' ', '%20'),
  ),
);

/** Query strings for GET /v1/agents: valid ones, and any keys and values, encoded or raw. */
export const validListQuery: fc.Arbitrary<string> = fc
  .record(
    {
      limit: fc.integer({ min: 1, max: LIMITS.listPageSize }).map(String),
      cursor: fc.stringMatching(/^[\w-]{0,64}$/),
    },
    { requiredKeys: [] },
  )
  .map((q) => new URLSearchParams(q).toString());

export const junkListQuery: fc.Arbitrary<string> = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom('limit', 'cursor', 'limit[]', 'cursor[x]', '__proto__'),
          fc.string({ maxLength: 10 }),
        ),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 80 }),
          fc.integer().map(String),
          fc.double().map(String),
          fc.constantFrom('', '0', '101', '-1', '1.5', '1e2', '0x10', 'NaN', 'Infinity', ' 5 '),
        ),
      ),
      { maxLength: 5 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  fc.stringMatching(/^[A-Za-z0-9%&=._~!$'()*+,;:@/?[\]-]{0,80}$/),
);
