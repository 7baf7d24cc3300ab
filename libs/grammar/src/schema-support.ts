/**
 * Which JSON Schemas the decoder can enforce, checked before anything is compiled, and the small rewrites
 * that make the engine's output always valid. A keyword we cannot enforce is refused with its JSON Pointer
 * (`/properties/when/format`), so the API can answer 400 naming it; nothing is silently ignored except
 * annotations (description, title, examples, …).
 */

/** A schema (or a part of one) was refused. `path` is a JSON Pointer into the schema, ending at the keyword. */
export class UnsupportedSchemaError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path || '/'}: ${reason}`);
    this.name = 'UnsupportedSchemaError';
  }
}

/** Limits on one schema; each is checked and named in the error. */
export const SCHEMA_LIMITS = Object.freeze({
  /** JSON text of one schema. */
  maxBytes: 16_384,
  /** Nesting of sub-schemas (properties, items, anyOf, $defs). */
  maxDepth: 12,
  /** Properties of one object, entries of one enum, branches of one anyOf/oneOf. */
  maxMembers: 128,
  /** Largest minLength/maxLength and minItems/maxItems (the grammar unrolls bounded repetition). */
  maxRepeat: 256,
  /** Characters of one `pattern`. */
  maxPatternLength: 256,
});

/** Ignored wherever they appear: they do not constrain values. */
const ANNOTATIONS = new Set([
  'description',
  'title',
  'examples',
  'default',
  '$comment',
  '$schema',
  'deprecated',
  'readOnly',
  'writeOnly',
]);

const TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

/** Keywords allowed beside each type (plus enum/const/anyOf/oneOf/$ref/$defs anywhere). */
const KEYWORDS_BY_TYPE: Record<string, readonly string[]> = {
  object: ['properties', 'required', 'additionalProperties'],
  array: ['items', 'minItems', 'maxItems'],
  string: ['minLength', 'maxLength', 'pattern'],
  number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  boolean: [],
  null: [],
};
const GENERAL = new Set(['type', 'enum', 'const', 'anyOf', 'oneOf', '$ref', '$defs', 'definitions']);

/** Why a known JSON Schema keyword is refused, so the error says more than "unsupported". */
const REFUSED: Record<string, string> = {
  format: 'format is not enforced by constrained decoding; use pattern or enum',
  allOf: 'allOf is not supported; merge the schemas',
  not: 'not is not supported',
  if: 'if/then/else is not supported',
  then: 'if/then/else is not supported',
  else: 'if/then/else is not supported',
  patternProperties: 'patternProperties is not supported; list the properties',
  propertyNames: 'propertyNames is not supported',
  minProperties: 'minProperties is not supported; use required',
  maxProperties: 'maxProperties is not supported',
  dependentRequired: 'dependentRequired is not supported',
  dependentSchemas: 'dependentSchemas is not supported',
  unevaluatedProperties: 'unevaluatedProperties is not supported; use additionalProperties: false',
  unevaluatedItems: 'unevaluatedItems is not supported',
  prefixItems: 'prefixItems (tuples) is not supported',
  contains: 'contains is not supported',
  uniqueItems: 'uniqueItems is not supported',
  multipleOf: 'multipleOf is not supported',
  $id: '$id is not supported; use local $ref to #/$defs/…',
  $anchor: '$anchor is not supported',
  $dynamicRef: '$dynamicRef is not supported',
};

const DEF_REF = /^#\/(\$defs|definitions)\/([^/~]+)$/;

function pointer(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Checks a schema and returns the copy the engine compiles: annotations dropped, bounds on `number` turned
 * into bounds on integers (see README: the engine's decimal ranges are unreliable, integer ones are exact,
 * and an integer inside the bounds is a valid `number`). Throws UnsupportedSchemaError.
 */
export function checkSchema(schema: unknown): Record<string, unknown> {
  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch {
    throw new UnsupportedSchemaError('', 'the schema is not JSON');
  }
  if (!isObject(schema)) throw new UnsupportedSchemaError('', 'a schema must be a JSON object');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > SCHEMA_LIMITS.maxBytes)
    throw new UnsupportedSchemaError('', `the schema is ${bytes} bytes; at most ${SCHEMA_LIMITS.maxBytes}`);
  const root = schema;
  const defs = new Map<string, Record<string, unknown>>();
  for (const key of ['$defs', 'definitions'] as const) {
    const d = root[key];
    if (d === undefined) continue;
    if (!isObject(d)) throw new UnsupportedSchemaError(`/${key}`, `${key} must be an object of schemas`);
    for (const [name, s] of Object.entries(d)) defs.set(`#/${key}/${name}`, s as Record<string, unknown>);
  }
  return checkNode(schema, '', 0, defs, true) as Record<string, unknown>;
}

function checkNode(
  node: unknown,
  path: string,
  depth: number,
  defs: Map<string, unknown>,
  isRoot = false,
): Json {
  if (depth > SCHEMA_LIMITS.maxDepth)
    throw new UnsupportedSchemaError(path, `schemas nest deeper than ${SCHEMA_LIMITS.maxDepth}`);
  if (node === true || node === false)
    throw new UnsupportedSchemaError(path, 'boolean schemas are not supported; give a type');
  if (!isObject(node)) throw new UnsupportedSchemaError(path, 'a schema must be a JSON object');

  const out: Record<string, Json> = {};
  const types = typesOf(node, path);
  const allowed = new Set(GENERAL);
  for (const t of types) for (const k of KEYWORDS_BY_TYPE[t]) allowed.add(k);
  for (const key of Object.keys(node)) {
    if (ANNOTATIONS.has(key)) continue;
    if ((key === '$defs' || key === 'definitions') && !isRoot)
      throw new UnsupportedSchemaError(pointer(path, key), `${key} is only supported at the root`);
    if (!allowed.has(key)) {
      const why = REFUSED[key];
      if (why) throw new UnsupportedSchemaError(pointer(path, key), why);
      const owner = Object.entries(KEYWORDS_BY_TYPE).find(([, ks]) => ks.includes(key));
      if (owner) {
        const given = types.length ? `type ${types.join('|')}` : 'no type';
        throw new UnsupportedSchemaError(
          pointer(path, key),
          `${key} needs type ${owner[0]} (this schema has ${given})`,
        );
      }
      throw new UnsupportedSchemaError(pointer(path, key), `unknown or unsupported keyword ${key}`);
    }
  }
  if (node['type'] !== undefined) out['type'] = node['type'] as Json;

  for (const key of ['enum', 'const'] as const) {
    if (node[key] === undefined) continue;
    if (key === 'enum') {
      const e = node[key];
      if (!Array.isArray(e) || e.length === 0)
        throw new UnsupportedSchemaError(pointer(path, key), 'enum must be a non-empty array');
      if (e.length > SCHEMA_LIMITS.maxMembers)
        throw new UnsupportedSchemaError(
          pointer(path, key),
          `enum has more than ${SCHEMA_LIMITS.maxMembers} values`,
        );
    }
    out[key] = node[key] as Json;
  }

  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = node[key];
    if (branches === undefined) continue;
    if (!Array.isArray(branches) || branches.length === 0)
      throw new UnsupportedSchemaError(pointer(path, key), `${key} must be a non-empty array of schemas`);
    if (branches.length > SCHEMA_LIMITS.maxMembers)
      throw new UnsupportedSchemaError(
        pointer(path, key),
        `${key} has more than ${SCHEMA_LIMITS.maxMembers} branches`,
      );
    if (types.length > 0 || node['properties'] !== undefined)
      throw new UnsupportedSchemaError(
        pointer(path, key),
        `${key} beside type/properties is not supported; put the type in each branch`,
      );
    // oneOf is generated as anyOf: the README asks for branches that cannot both match (e.g. a const tag).
    out['anyOf'] = branches.map((b, i) => checkNode(b, pointer(pointer(path, key), i), depth + 1, defs));
  }

  const ref = node['$ref'];
  if (ref !== undefined) {
    if (typeof ref !== 'string' || (!DEF_REF.test(ref) && ref !== '#'))
      throw new UnsupportedSchemaError(
        pointer(path, '$ref'),
        'only local references (#, #/$defs/NAME) are supported',
      );
    if (ref !== '#' && !defs.has(ref))
      throw new UnsupportedSchemaError(pointer(path, '$ref'), `${ref} is not defined`);
    if (Object.keys(node).some((k) => k !== '$ref' && !ANNOTATIONS.has(k)))
      throw new UnsupportedSchemaError(pointer(path, '$ref'), '$ref must stand alone in its schema');
    out['$ref'] = ref;
  }
  for (const key of ['$defs', 'definitions'] as const) {
    const d = node[key];
    if (!isRoot || d === undefined) continue;
    const checked: Record<string, Json> = {};
    for (const [name, s] of Object.entries(d as Record<string, unknown>))
      checked[name] = checkNode(s, pointer(pointer(path, key), name), depth + 1, defs);
    out[key] = checked;
  }

  if (types.includes('object')) checkObject(node, out, path, depth, defs);
  if (types.includes('array')) checkArray(node, out, path, depth, defs);
  if (types.includes('string')) checkString(node, out, path);
  if (types.includes('number') || types.includes('integer')) checkNumber(node, out, path, types);

  const constrains = types.length > 0 || ['enum', 'const', 'anyOf', '$ref'].some((k) => out[k] !== undefined);
  if (!constrains) throw new UnsupportedSchemaError(path, 'give a type (or enum, const, anyOf, $ref)');
  return out;
}

function typesOf(node: Record<string, unknown>, path: string): string[] {
  const t = node['type'];
  if (t === undefined) return [];
  const list = Array.isArray(t) ? t : [t];
  if (list.length === 0) throw new UnsupportedSchemaError(pointer(path, 'type'), 'type must not be empty');
  for (const [i, v] of list.entries()) {
    if (typeof v !== 'string' || !TYPES.has(v))
      throw new UnsupportedSchemaError(
        Array.isArray(t) ? pointer(pointer(path, 'type'), i) : pointer(path, 'type'),
        `unknown type ${JSON.stringify(v)}`,
      );
  }
  if (list.length > 1 && list.some((v) => v !== 'null') && list.filter((v) => v !== 'null').length > 1)
    throw new UnsupportedSchemaError(
      pointer(path, 'type'),
      'a type list may only add "null" to one type; use anyOf',
    );
  return list as string[];
}

function checkObject(
  node: Record<string, unknown>,
  out: Record<string, Json>,
  path: string,
  depth: number,
  defs: Map<string, unknown>,
): void {
  const props = node['properties'] ?? {};
  if (!isObject(props))
    throw new UnsupportedSchemaError(pointer(path, 'properties'), 'properties must be an object');
  const names = Object.keys(props);
  if (names.length > SCHEMA_LIMITS.maxMembers)
    throw new UnsupportedSchemaError(
      pointer(path, 'properties'),
      `more than ${SCHEMA_LIMITS.maxMembers} properties`,
    );
  const checked: Record<string, Json> = {};
  for (const name of names)
    checked[name] = checkNode(props[name], pointer(pointer(path, 'properties'), name), depth + 1, defs);
  out['properties'] = checked;
  const required = node['required'];
  if (required !== undefined) {
    if (!Array.isArray(required) || required.some((r) => typeof r !== 'string'))
      throw new UnsupportedSchemaError(
        pointer(path, 'required'),
        'required must be an array of property names',
      );
    for (const [i, r] of (required as string[]).entries())
      if (!(r in checked))
        throw new UnsupportedSchemaError(
          pointer(pointer(path, 'required'), i),
          `required property ${r} is not in properties`,
        );
    out['required'] = required as string[];
  }
  const additional = node['additionalProperties'];
  if (additional !== undefined && additional !== false)
    throw new UnsupportedSchemaError(
      pointer(path, 'additionalProperties'),
      'only additionalProperties: false is supported (extra keys are never generated)',
    );
  out['additionalProperties'] = false;
}

function checkArray(
  node: Record<string, unknown>,
  out: Record<string, Json>,
  path: string,
  depth: number,
  defs: Map<string, unknown>,
): void {
  if (node['items'] === undefined)
    throw new UnsupportedSchemaError(pointer(path, 'items'), 'an array needs an items schema');
  out['items'] = checkNode(node['items'], pointer(path, 'items'), depth + 1, defs);
  const [min, max] = checkCounts(node, path, 'minItems', 'maxItems');
  if (min !== undefined) out['minItems'] = min;
  if (max !== undefined) out['maxItems'] = max;
}

function checkString(node: Record<string, unknown>, out: Record<string, Json>, path: string): void {
  const [min, max] = checkCounts(node, path, 'minLength', 'maxLength');
  if (min !== undefined) out['minLength'] = min;
  if (max !== undefined) out['maxLength'] = max;
  const pattern = node['pattern'];
  if (pattern === undefined) return;
  if (min !== undefined || max !== undefined)
    throw new UnsupportedSchemaError(
      pointer(path, 'pattern'),
      'pattern together with minLength/maxLength is not supported; bound the pattern instead',
    );
  out['pattern'] = checkPattern(pattern, pointer(path, 'pattern'));
}

function checkCounts(
  node: Record<string, unknown>,
  path: string,
  minKey: string,
  maxKey: string,
): [number | undefined, number | undefined] {
  const read = (key: string): number | undefined => {
    const v = node[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
      throw new UnsupportedSchemaError(pointer(path, key), `${key} must be a non-negative integer`);
    if (v > SCHEMA_LIMITS.maxRepeat)
      throw new UnsupportedSchemaError(
        pointer(path, key),
        `${key} above ${SCHEMA_LIMITS.maxRepeat} is not supported`,
      );
    return v;
  };
  const min = read(minKey);
  const max = read(maxKey);
  if (min !== undefined && max !== undefined && min > max)
    throw new UnsupportedSchemaError(pointer(path, minKey), `${minKey} is above ${maxKey}`);
  return [min, max];
}

/**
 * The engine turns a pattern into grammar text, and some regex features would let it write characters that
 * break the JSON string around them (`.` and negated classes include `"`, `\` and control characters; `\s`
 * includes a raw newline). So a pattern may use only printable ASCII other than `"` and `\`, character
 * classes that are not negated, groups, alternation, quantifiers, anchors, and the escapes `\d`, `\w` and
 * backslash-escaped punctuation.
 */
function checkPattern(pattern: unknown, path: string): string {
  if (typeof pattern !== 'string' || pattern.length === 0)
    throw new UnsupportedSchemaError(path, 'pattern must be a non-empty string');
  if (pattern.length > SCHEMA_LIMITS.maxPatternLength)
    throw new UnsupportedSchemaError(
      path,
      `pattern is longer than ${SCHEMA_LIMITS.maxPatternLength} characters`,
    );
  try {
    new RegExp(pattern, 'u');
  } catch {
    throw new UnsupportedSchemaError(path, 'pattern is not a valid regular expression');
  }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    const code = c.charCodeAt(0);
    if (code < 0x20 || code > 0x7e || c === '"')
      throw new UnsupportedSchemaError(path, `pattern character ${JSON.stringify(c)} is not supported`);
    if (c === '.')
      throw new UnsupportedSchemaError(
        path,
        'pattern may not use "." (it would match any character); use a class',
      );
    if (c === '[' && pattern[i + 1] === '^')
      throw new UnsupportedSchemaError(path, 'negated character classes ([^…]) are not supported');
    if (c === '(' && pattern[i + 1] === '?')
      throw new UnsupportedSchemaError(path, 'lookaround and special groups ((?…)) are not supported');
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (!/^[dw]$/.test(next) && !/^[-.^$*+?()[\]{}|/,:;!#%&=<>@_~']$/.test(next))
        throw new UnsupportedSchemaError(
          path,
          `pattern escape \\${next} is not supported (only \\d, \\w and escaped punctuation)`,
        );
      i++;
    }
  }
  return pattern;
}

function checkNumber(
  node: Record<string, unknown>,
  out: Record<string, Json>,
  path: string,
  types: readonly string[],
): void {
  const bound = (key: string): number | undefined => {
    const v = node[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new UnsupportedSchemaError(pointer(path, key), `${key} must be a finite number`);
    if (Math.abs(v) > Number.MAX_SAFE_INTEGER)
      throw new UnsupportedSchemaError(
        pointer(path, key),
        `${key} must be within ±${Number.MAX_SAFE_INTEGER}`,
      );
    return v;
  };
  const min = bound('minimum');
  const max = bound('maximum');
  const xmin = bound('exclusiveMinimum');
  const xmax = bound('exclusiveMaximum');
  if ([min, max, xmin, xmax].every((b) => b === undefined)) return;
  // The smallest and largest integers inside the bounds.
  let lo = -Infinity;
  if (min !== undefined) lo = Math.max(lo, Math.ceil(min));
  if (xmin !== undefined) lo = Math.max(lo, Math.floor(xmin) + 1);
  let hi = Infinity;
  if (max !== undefined) hi = Math.min(hi, Math.floor(max));
  if (xmax !== undefined) hi = Math.min(hi, Math.ceil(xmax) - 1);
  const firstKey = ['minimum', 'exclusiveMinimum', 'maximum', 'exclusiveMaximum'].find(
    (k) => node[k] !== undefined,
  )!;
  if (lo > hi)
    throw new UnsupportedSchemaError(
      pointer(path, firstKey),
      types.includes('integer')
        ? 'no integer lies inside these bounds'
        : 'no integer lies inside these bounds (bounded numbers are generated as integers)',
    );
  // Bounded numbers are generated as integers inside the bounds: a valid `number`, and exact in the engine.
  if (types.includes('number')) {
    const asInteger = types.map((t) => (t === 'number' ? 'integer' : t));
    out['type'] = asInteger.length === 1 ? asInteger[0] : asInteger;
  }
  if (lo !== -Infinity) out['minimum'] = lo;
  if (hi !== Infinity) out['maximum'] = hi;
}
