/**
 * Tool schemas the constrained-decoding tests and benchmark generate against: what users write (nested
 * objects, arrays, enums, anyOf/oneOf, $ref/$defs, bounds, patterns). Strings and arrays are bounded so a
 * random-weight model, which rarely chooses to close a string, finishes every call in a few dozen tokens.
 */
import type { ToolSpec } from '../constraint-spec.js';

const shortText = { type: 'string', maxLength: 12 };

export const SCHEMA_SUITE: readonly ToolSpec[] = [
  {
    name: 'get_weather',
    parameters: {
      type: 'object',
      description: 'Weather for a city',
      properties: {
        city: { type: 'string', minLength: 1, maxLength: 16, description: 'the city' },
        unit: { enum: ['celsius', 'fahrenheit'] },
      },
      required: ['city'],
      additionalProperties: false,
    },
  },
  {
    name: 'set_alarm',
    parameters: {
      type: 'object',
      properties: {
        hour: { type: 'integer', minimum: 0, maximum: 23 },
        minute: { type: 'integer', minimum: 0, maximum: 59 },
      },
      required: ['hour', 'minute'],
      additionalProperties: false,
    },
  },
  {
    name: 'toggle',
    parameters: {
      type: 'object',
      properties: { on: { type: 'boolean' } },
      required: ['on'],
      additionalProperties: false,
    },
  },
  {
    name: 'no_args',
    parameters: { type: 'object', properties: {}, additionalProperties: false },
  },
  {
    name: 'search',
    parameters: {
      type: 'object',
      properties: {
        query: shortText,
        limit: { type: 'integer', minimum: 1, maximum: 50 },
        tags: { type: 'array', items: { type: 'string', maxLength: 6 }, maxItems: 3 },
      },
      required: ['query'],
      additionalProperties: false,
    },
  },
  {
    name: 'create_event',
    parameters: {
      type: 'object',
      properties: {
        title: shortText,
        when: {
          type: 'object',
          properties: {
            day: { type: 'integer', minimum: 1, maximum: 31 },
            month: { type: 'integer', minimum: 1, maximum: 12 },
          },
          required: ['day', 'month'],
          additionalProperties: false,
        },
        attendees: {
          type: 'array',
          items: {
            type: 'object',
            properties: { name: { type: 'string', maxLength: 8 }, optional: { type: 'boolean' } },
            required: ['name'],
            additionalProperties: false,
          },
          minItems: 1,
          maxItems: 2,
        },
      },
      required: ['title', 'when', 'attendees'],
      additionalProperties: false,
    },
  },
  {
    name: 'pick_color',
    parameters: {
      type: 'object',
      properties: { color: { enum: ['red', 'green', 'blue', 'a "quoted" one', 'ünïcödé'] } },
      required: ['color'],
    },
  },
  {
    name: 'mixed_enum',
    parameters: { type: 'object', properties: { v: { enum: [1, 'two', null, true, 3.5] } }, required: ['v'] },
  },
  {
    name: 'const_kind',
    parameters: {
      type: 'object',
      properties: { kind: { const: 'fixed' }, count: { type: 'integer', minimum: -5, maximum: 5 } },
      required: ['kind', 'count'],
    },
  },
  {
    name: 'nullable',
    parameters: {
      type: 'object',
      properties: {
        note: { type: ['string', 'null'], maxLength: 10 },
        n: { type: ['integer', 'null'], minimum: 0, maximum: 9 },
      },
      required: ['note', 'n'],
    },
  },
  {
    name: 'any_of',
    parameters: {
      type: 'object',
      properties: {
        target: {
          anyOf: [
            { type: 'integer', minimum: 100, maximum: 999 },
            { type: 'string', minLength: 2, maxLength: 4 },
            { type: 'null' },
          ],
        },
      },
      required: ['target'],
    },
  },
  {
    name: 'one_of_tagged',
    parameters: {
      type: 'object',
      properties: {
        shape: {
          oneOf: [
            {
              type: 'object',
              properties: { kind: { const: 'circle' }, r: { type: 'integer', minimum: 1, maximum: 9 } },
              required: ['kind', 'r'],
              additionalProperties: false,
            },
            {
              type: 'object',
              properties: { kind: { const: 'square' }, side: { type: 'integer', minimum: 1, maximum: 9 } },
              required: ['kind', 'side'],
              additionalProperties: false,
            },
          ],
        },
      },
      required: ['shape'],
    },
  },
  {
    name: 'with_refs',
    parameters: {
      type: 'object',
      $defs: {
        point: {
          type: 'object',
          properties: {
            x: { type: 'integer', minimum: -9, maximum: 9 },
            y: { type: 'integer', minimum: -9, maximum: 9 },
          },
          required: ['x', 'y'],
          additionalProperties: false,
        },
      },
      properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } },
      required: ['from', 'to'],
    },
  },
  {
    name: 'definitions_ref',
    parameters: {
      type: 'object',
      definitions: { level: { enum: ['low', 'mid', 'high'] } },
      properties: {
        levels: { type: 'array', items: { $ref: '#/definitions/level' }, minItems: 1, maxItems: 3 },
      },
      required: ['levels'],
    },
  },
  {
    name: 'recursive_tree',
    parameters: {
      type: 'object',
      $defs: {
        node: {
          type: 'object',
          properties: {
            label: { type: 'string', maxLength: 3 },
            child: { anyOf: [{ $ref: '#/$defs/node' }, { type: 'null' }] },
          },
          required: ['label', 'child'],
          additionalProperties: false,
        },
      },
      properties: { root: { $ref: '#/$defs/node' } },
      required: ['root'],
    },
  },
  {
    name: 'number_bounds',
    parameters: {
      type: 'object',
      properties: {
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        temp: { type: 'number', exclusiveMinimum: -40.5, exclusiveMaximum: 60 },
        price: { type: 'number', minimum: 0.5 },
      },
      required: ['ratio', 'temp', 'price'],
    },
  },
  {
    name: 'integer_exclusive',
    parameters: {
      type: 'object',
      properties: { n: { type: 'integer', exclusiveMinimum: 10, exclusiveMaximum: 20 } },
      required: ['n'],
    },
  },
  {
    name: 'free_number',
    parameters: {
      type: 'object',
      properties: { value: { type: 'number' }, count: { type: 'integer' } },
      required: ['value'],
    },
  },
  {
    name: 'string_pattern',
    parameters: {
      type: 'object',
      properties: {
        code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2,4}$' },
        slug: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,7}$' },
      },
      required: ['code', 'slug'],
    },
  },
  {
    name: 'matrix',
    parameters: {
      type: 'object',
      properties: {
        rows: {
          type: 'array',
          items: {
            type: 'array',
            items: { type: 'integer', minimum: 0, maximum: 9 },
            minItems: 1,
            maxItems: 3,
          },
          minItems: 1,
          maxItems: 3,
        },
      },
      required: ['rows'],
    },
  },
  {
    name: 'deep_nesting',
    parameters: {
      type: 'object',
      properties: {
        a: {
          type: 'object',
          properties: {
            b: {
              type: 'object',
              properties: { c: { type: 'object', properties: { d: { type: 'boolean' } }, required: ['d'] } },
              required: ['c'],
            },
          },
          required: ['b'],
        },
      },
      required: ['a'],
    },
  },
  {
    name: 'all_optional',
    parameters: {
      type: 'object',
      properties: { x: { type: 'boolean' }, y: { type: 'null' }, z: { type: 'string', maxLength: 4 } },
    },
  },
  {
    name: 'bounded_list',
    parameters: {
      type: 'object',
      properties: {
        ids: {
          type: 'array',
          items: { type: 'integer', minimum: 1, maximum: 1000 },
          minItems: 2,
          maxItems: 4,
        },
      },
      required: ['ids'],
    },
  },
  {
    name: 'unicode_text',
    parameters: {
      type: 'object',
      properties: { text: { type: 'string', minLength: 3, maxLength: 6 } },
      required: ['text'],
    },
  },
];

/** A structured final message (responseFormat json_schema). */
export const MESSAGE_SCHEMA = {
  type: 'object',
  properties: {
    answer: { type: 'string', maxLength: 20 },
    confidence: { type: 'integer', minimum: 0, maximum: 100 },
    sources: { type: 'array', items: { enum: ['web', 'memory', 'tool'] }, maxItems: 2 },
  },
  required: ['answer', 'confidence'],
  additionalProperties: false,
};
