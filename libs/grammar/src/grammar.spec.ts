/**
 * The matcher and schema checks without a model: which schemas are refused (and where), what each mode
 * allows token by token, replay and rollback, and the rewrites that keep the engine's output valid JSON
 * and valid UTF-8.
 */
import {
  applyTokenBitmask,
  bitmaskWords,
  GrammarEngine,
  isTokenAllowed,
  type TokenMatcher,
} from './constrained-decoding.js';
import { ConstraintSpecError, resolveSpec, type ConstraintSpec } from './constraint-spec.js';
import { checkSchema, SCHEMA_LIMITS, UnsupportedSchemaError } from './schema-support.js';
import { byteTokenizer, fixturesPresent, worldTokenizer, type TestTokenizer } from './testing/models.js';

function refusal(schema: unknown): UnsupportedSchemaError {
  try {
    checkSchema(schema);
  } catch (e) {
    if (e instanceof UnsupportedSchemaError) return e;
    throw e;
  }
  throw new Error('the schema was accepted');
}

describe('schema checks', () => {
  it.each([
    [
      { type: 'object', properties: { when: { type: 'string', format: 'date-time' } } },
      '/properties/when/format',
    ],
    [{ type: 'object', allOf: [] }, '/allOf'],
    [{ type: 'object', properties: {}, additionalProperties: true }, '/additionalProperties'],
    [
      {
        type: 'object',
        properties: { a: { type: 'object', properties: {}, additionalProperties: { type: 'string' } } },
      },
      '/properties/a/additionalProperties',
    ],
    [{ type: 'object', properties: { s: { type: 'string', pattern: '^a.b$' } } }, '/properties/s/pattern'],
    [{ type: 'object', properties: { s: { type: 'string', pattern: '[^x]' } } }, '/properties/s/pattern'],
    [{ type: 'object', properties: { s: { type: 'string', pattern: '\\s+' } } }, '/properties/s/pattern'],
    [{ type: 'object', properties: { n: { type: 'number', minLength: 2 } } }, '/properties/n/minLength'],
    [{ type: 'object', properties: { r: { $ref: 'https://example.com/s.json' } } }, '/properties/r/$ref'],
    [{ type: 'object', properties: { r: { $ref: '#/$defs/missing' } } }, '/properties/r/$ref'],
    [{ type: 'object', properties: { e: { enum: [] } } }, '/properties/e/enum'],
    [
      { type: 'object', properties: { l: { type: 'array', items: { type: 'integer' }, uniqueItems: true } } },
      '/properties/l/uniqueItems',
    ],
    [{ type: 'object', properties: { l: { type: 'array' } } }, '/properties/l/items'],
    [
      { type: 'object', properties: { x: { type: 'number', minimum: 0.1, maximum: 0.9 } } },
      '/properties/x/minimum',
    ],
    [
      { type: 'object', properties: { s: { type: 'string', maxLength: SCHEMA_LIMITS.maxRepeat + 1 } } },
      '/properties/s/maxLength',
    ],
    [{ type: 'object', properties: { x: { type: ['string', 'integer'] } } }, '/properties/x/type'],
    [{ type: 'object', properties: { x: {} } }, '/properties/x'],
    [
      {
        type: 'object',
        properties: { x: { anyOf: [{ type: 'string' }, { type: 'integer', multipleOf: 2 }] } },
      },
      '/properties/x/anyOf/1/multipleOf',
    ],
  ])('refuses %j naming %s', (schema, path) => {
    expect(refusal(schema).path).toBe(path);
  });

  it('refuses schemas nested deeper than the limit and larger than the size limit', () => {
    let deep: Record<string, unknown> = { type: 'boolean' };
    for (let i = 0; i <= SCHEMA_LIMITS.maxDepth; i++) deep = { type: 'object', properties: { a: deep } };
    expect(refusal(deep).reason).toMatch(/deeper than/);
    const wide = { type: 'object', properties: { a: { enum: ['x'.repeat(SCHEMA_LIMITS.maxBytes)] } } };
    expect(refusal(wide).reason).toMatch(/bytes; at most/);
  });

  it('ignores annotations and turns bounds on number into bounds on integers', () => {
    const checked = checkSchema({
      type: 'object',
      title: 'T',
      description: 'ignored',
      properties: {
        x: { type: 'number', exclusiveMinimum: 0.5, maximum: 7.9, description: 'x', examples: [1] },
      },
    });
    expect(checked).toEqual({
      type: 'object',
      properties: { x: { type: 'integer', minimum: 1, maximum: 7 } },
      additionalProperties: false,
    });
  });

  it('names the field of a spec: tool names, duplicate tools, choices', () => {
    const tool = { name: 'a', parameters: { type: 'object', properties: {} } };
    const cases: [ConstraintSpec, string][] = [
      [{ tools: [{ name: 'bad name', parameters: {} }] }, '/tools/0/name'],
      [{ tools: [tool, tool] }, '/tools/1/name'],
      [
        {
          tools: [
            tool,
            {
              name: 'b',
              parameters: { type: 'object', properties: { d: { type: 'string', format: 'date' } } },
            },
          ],
        },
        '/tools/1/parameters/properties/d/format',
      ],
      [{ tools: [{ name: 'c', parameters: { type: 'string' } }] }, '/tools/0/parameters/type'],
      [{ tools: [], toolChoice: 'required' }, '/toolChoice'],
      [{ tools: [tool], toolChoice: { type: 'function', name: 'zzz' } }, '/toolChoice/name'],
      [
        { responseFormat: { type: 'json_schema', schema: { type: 'object', not: {} } } },
        '/responseFormat/schema/not',
      ],
    ];
    for (const [spec, path] of cases) {
      let error: unknown;
      try {
        resolveSpec(spec);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConstraintSpecError);
      expect((error as ConstraintSpecError).path).toBe(path);
    }
  });
});

describe('applyTokenBitmask', () => {
  it('sets masked logits to -Infinity and leaves the rest, including a partial last word', () => {
    const logits = Float32Array.from({ length: 40 }, (_, i) => i);
    const mask = new Uint32Array(bitmaskWords(40));
    for (const id of [0, 5, 31, 32, 39]) mask[id >>> 5] |= 1 << (id & 31);
    applyTokenBitmask(logits, mask);
    expect(Array.from(logits, (l, i) => (l === -Infinity ? -1 : i)).filter((i) => i >= 0)).toEqual([
      0, 5, 31, 32, 39,
    ]);
  });
});

const WEATHER = {
  name: 'get_weather',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string', maxLength: 8 },
      unit: { enum: ['c', 'ünï'] },
      n: { type: 'number', minimum: 0.5, maximum: 1.5 },
    },
    required: ['city'],
  },
};

function feed(m: TokenMatcher, tokens: readonly number[]): void {
  for (const t of tokens) if (!m.accept(t)) throw new Error(`token ${t} refused`);
}

describe('matcher over the byte vocabulary', () => {
  let tok: TestTokenizer;
  let engine: GrammarEngine;
  let mask: Uint32Array;
  const allowed = (m: TokenMatcher, text: string): boolean => {
    m.fillMask(mask);
    return isTokenAllowed(mask, tok.encode(text)[0]);
  };

  beforeAll(async () => {
    tok = byteTokenizer();
    engine = await GrammarEngine.create({ tokenizer: tok, logitCount: 320 });
    mask = new Uint32Array(engine.words);
  });

  it('auto: free text, then a constrained call after <tool_call>, then the turn end', async () => {
    const m = await engine.createMatcher({ tools: [WEATHER], parallelToolCalls: false });
    feed(m, tok.encode(' Hm, <tool_c'));
    expect(m.isConstrained()).toBe(false);
    feed(m, tok.encode('all>'));
    expect(m.isConstrained()).toBe(true);
    expect(allowed(m, '{')).toBe(true);
    expect(allowed(m, 'x')).toBe(false);
    feed(m, tok.encode('{"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>'));
    expect(allowed(m, '\n')).toBe(true);
    feed(m, tok.encode('\n'));
    expect(allowed(m, '<')).toBe(false); // no parallel calls: only the turn's end
    feed(m, tok.encode('\n'));
    expect(m.isTerminated()).toBe(true);
  });

  it('auto: the turn may end in free text, and ids beyond the tokenizer are never allowed', async () => {
    const m = await engine.createMatcher({ tools: [WEATHER] });
    m.fillMask(mask);
    for (let id = 257; id < 320; id++) expect(isTokenAllowed(mask, id)).toBe(false);
    expect(m.accept(300)).toBe(false);
    feed(m, tok.encode('Just text.\n\n'));
    expect(m.isTerminated()).toBe(true);
  });

  it('none: the last byte of <tool_call> is masked; the turn ends at a blank line', async () => {
    const m = await engine.createMatcher({ tools: [WEATHER], toolChoice: 'none' });
    feed(m, tok.encode('a <tool_call'));
    expect(allowed(m, '>')).toBe(false);
    expect(m.accept(tok.encode('>')[0])).toBe(false);
    expect(allowed(m, 'x')).toBe(true);
  });

  it('required and named tool: a call from the first token (after an optional space)', async () => {
    for (const spec of [
      { tools: [WEATHER], toolChoice: 'required' },
      { tools: [WEATHER], toolChoice: { type: 'function', name: 'get_weather' } },
    ] as ConstraintSpec[]) {
      const m = await engine.createMatcher(spec);
      expect(allowed(m, 'H')).toBe(false);
      expect(allowed(m, ' ')).toBe(true);
      expect(allowed(m, '<')).toBe(true);
    }
  });

  it('json_schema: the message is the JSON, then the turn end', async () => {
    const m = await engine.createMatcher({
      responseFormat: { type: 'json_schema', schema: WEATHER.parameters },
    });
    expect(allowed(m, '{')).toBe(true);
    expect(allowed(m, '<')).toBe(false);
    feed(m, tok.encode('{"city":"X"}\n\n'));
    expect(m.isTerminated()).toBe(true);
  });

  it('keeps control characters and invalid UTF-8 out of strings, writes non-ASCII enum values as escapes', async () => {
    const m = await engine.createMatcher({
      responseFormat: { type: 'json_schema', schema: WEATHER.parameters },
    });
    feed(m, tok.encode('{"city":"'));
    m.fillMask(mask);
    for (const byte of [0x09, 0x0a, 0x1f, 0xc1, 0xed, 0xf5, 0xff])
      expect(isTokenAllowed(mask, byte + 1)).toBe(false);
    feed(m, tok.encode('ab","unit":"'));
    expect(allowed(m, '\\')).toBe(true); // "\u00fcn\u00ef"
    expect(isTokenAllowed(mask, 0xc3 + 1)).toBe(false); // not the raw UTF-8 of ü
    feed(m, tok.encode('\\u00fcn\\u00ef","n":'));
    // number with minimum 0.5, maximum 1.5: generated as the integer 1
    expect(allowed(m, '1')).toBe(true);
    expect(allowed(m, '0')).toBe(false);
    feed(m, tok.encode('1'));
    expect(allowed(m, '.')).toBe(false);
    feed(m, tok.encode('}\n\n'));
    expect(m.isTerminated()).toBe(true);
    expect(JSON.parse('{"city":"ab","unit":"\\u00fcn\\u00ef","n":1}').unit).toBe('ünï');
  });

  it('refuses a token outside the mask without changing state', async () => {
    const m = await engine.createMatcher({ tools: [WEATHER], toolChoice: 'required' });
    feed(m, tok.encode('<tool_call>{"name":"'));
    m.fillMask(mask);
    const before = mask.slice();
    expect(m.accept(tok.encode('x')[0])).toBe(false);
    m.fillMask(mask);
    expect(mask).toEqual(before);
    expect(() => m.fillMask(new Uint32Array(3))).toThrow(RangeError);
  });

  it('is rebuilt by replaying tokens, and rollback equals a replay of the rest', async () => {
    const spec: ConstraintSpec = { tools: [WEATHER] };
    const text =
      ' Ok.\n<tool_call>{"name":"get_weather","arguments":{"city":"Rome","unit":"c"}}</tool_call>\n<tool_call>{"name":"get_weather","arguments":{"city":"Nice"';
    const tokens = tok.encode(text);
    const live = await engine.createMatcher(spec);
    const expected: Uint32Array[] = [];
    for (const t of tokens) {
      live.fillMask(mask);
      expected.push(mask.slice());
      feed(live, [t]);
    }
    for (const k of [0, 3, 5, 17, 40, tokens.length - 1]) {
      const resumed = await engine.createMatcher(spec, tokens.slice(0, k));
      resumed.fillMask(mask);
      expect(mask).toEqual(expected[k]);
      resumed.dispose();
    }
    live.rollback(tokens.length - 20);
    live.fillMask(mask);
    expect(mask).toEqual(expected[20]);
    expect(live.tokens).toEqual(tokens.slice(0, 20));
    await expect(engine.createMatcher(spec, tok.encode('<tool_call>{"nope'))).rejects.toThrow(/not allowed/);
  });
});

(fixturesPresent() ? describe : describe.skip)('matcher over the World vocabulary', () => {
  it('lets a token run past <tool_call> when its rest fits the call (World has ">{")', async () => {
    const tok = worldTokenizer();
    const engine = await GrammarEngine.create({ tokenizer: tok, logitCount: 65536 });
    const m = await engine.createMatcher({ tools: [WEATHER] });
    const mask = new Uint32Array(engine.words);
    feed(m, tok.encode('Let me see.\n<tool_call'));
    const [openBrace] = tok.encode('>{');
    const [closeBracket] = tok.encode('>]');
    expect(tok.encode('>{')).toHaveLength(1);
    expect(tok.encode('>]')).toHaveLength(1);
    m.fillMask(mask);
    expect(isTokenAllowed(mask, openBrace)).toBe(true);
    expect(isTokenAllowed(mask, closeBracket)).toBe(false);
    feed(m, [openBrace]);
    expect(m.isConstrained()).toBe(true);
    feed(m, tok.encode('"name":"get_weather","arguments":{"city":"Oslo"}}</tool_call>\n\n'));
    expect(m.isTerminated()).toBe(true);
    // Masks over 65,536 logits: the 6 ids the vocabulary lacks are never allowed.
    const fresh = await engine.createMatcher({ tools: [WEATHER] });
    fresh.fillMask(mask);
    for (let id = tok.vocabSize; id < 65536; id++) expect(isTokenAllowed(mask, id)).toBe(false);
  });
});
