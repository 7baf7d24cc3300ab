/**
 * Randomly generated function tools (name, description, nested JSON-Schema parameters) and requests that name
 * their values, so that the right call can only be written by reading the request and the tool list.
 */
import type { JsonObject, JsonValue, ToolDefinition } from '@gooseherd/agent-runtime';
import type { Rng } from './rng.js';
import { capitalize, pseudoWord, randomValue, VERBS, type Pools, type ValueKind } from './vocabulary.js';

export interface ParamSpec {
  readonly name: string;
  /** How a user says the parameter's name. */
  readonly words: string;
  readonly kind: ValueKind | 'object';
  readonly choices?: readonly string[];
  readonly children?: readonly ParamSpec[];
  readonly required: boolean;
}

export interface GeneratedTool {
  readonly verb: (typeof VERBS)[number];
  readonly noun: string;
  readonly definition: ToolDefinition;
  readonly params: readonly ParamSpec[];
}

function toolName(rng: Rng, verb: string, noun: string): string {
  return rng.weighted<() => string>([
    [5, () => `${verb}_${noun}`],
    [2, () => `${verb}${capitalize(noun)}`],
    [1, () => `${noun}_${verb}`],
    [1, () => `${verb}-${noun}`],
    [1, () => `${verb}_${noun}_${rng.pick(['info', 'details', 'record', 'v2', 'data', 'entry'])}`],
  ])();
}

function paramSpec(rng: Rng, pools: Pools, depth: number, taken: Set<string>): ParamSpec {
  const noun = rng.pick(pools.nouns);
  const make = rng.weighted<() => Omit<ParamSpec, 'required'>>([
    [3, () => ({ name: `${noun}_id`, words: `${noun} id`, kind: 'id' })],
    [2, () => ({ name: noun, words: noun, kind: 'word' })],
    [2, () => ({ name: `${noun}_name`, words: `${noun} name`, kind: 'name' })],
    [
      1,
      () => ({
        name: rng.pick(['city', 'location', 'destination', 'origin', 'place']),
        words: '',
        kind: 'place',
      }),
    ],
    [2, () => ({ name: `${noun}_count`, words: `number of ${noun}s`, kind: 'int' })],
    [1, () => ({ name: `max_${noun}`, words: `maximum ${noun}`, kind: 'int' })],
    [1, () => ({ name: `${noun}_amount`, words: `${noun} amount`, kind: 'number' })],
    [1, () => ({ name: `${noun}_date`, words: `${noun} date`, kind: 'date' })],
    [1, () => ({ name: rng.pick(['email', 'contact_email', `${noun}_email`]), words: '', kind: 'email' })],
    [1, () => ({ name: `include_${noun}`, words: `include ${noun}`, kind: 'bool' })],
    [
      1,
      () => ({
        name: `${noun}_type`,
        words: `${noun} type`,
        kind: 'enum',
        choices: rng.sample(pools.adjectives, rng.int(2, 4)),
      }),
    ],
    [
      depth === 0 ? 1 : 0,
      () => {
        const inner = new Set<string>();
        const children = Array.from({ length: rng.int(1, 2) }, () => paramSpec(rng, pools, 1, inner));
        return { name: `${noun}_options`, words: `${noun} options`, kind: 'object', children };
      },
    ],
  ]);
  let spec = make();
  if (!spec.words) spec = { ...spec, words: spec.name.replace(/_/g, ' ') };
  if (taken.has(spec.name)) spec = { ...spec, name: `${spec.name}_${pseudoWord(rng, 1)}` };
  taken.add(spec.name);
  return { ...spec, required: rng.chance(0.8) };
}

function schemaOf(p: ParamSpec): JsonObject {
  switch (p.kind) {
    case 'object': {
      const props: JsonObject = {};
      for (const c of p.children ?? []) props[c.name] = schemaOf(c);
      return { type: 'object', properties: props, required: (p.children ?? []).map((c) => c.name) };
    }
    case 'int':
      return { type: 'integer' };
    case 'number':
      return { type: 'number' };
    case 'bool':
      return { type: 'boolean' };
    case 'enum':
      return { type: 'string', enum: [...(p.choices ?? [])] };
    default:
      return { type: 'string' };
  }
}

const DESCRIPTIONS = [
  (v: string, n: string) => `${capitalize(v)}s the ${n}.`,
  (v: string, n: string) => `${capitalize(v)} a ${n} by its details.`,
  (v: string, n: string) => `Use this to ${v} the ${n}.`,
  (v: string, n: string) => `${capitalize(v)} ${n} records.`,
  (v: string, n: string) => `Lets the assistant ${v} a ${n} for the user.`,
  (v: string, n: string) => `${capitalize(n)} service: ${v}.`,
];

export function generateTool(rng: Rng, pools: Pools, taken: Set<string>, noun?: string): GeneratedTool {
  const verb = rng.pick(VERBS);
  const n = noun ?? rng.pick(pools.nouns);
  let name = toolName(rng, verb.verb, n);
  while (taken.has(name)) name = `${name}_${pseudoWord(rng, 1)}`;
  taken.add(name);
  const names = new Set<string>();
  const params = Array.from(
    {
      length: rng.weighted([
        [1, 0],
        [4, 1],
        [4, 2],
        [2, 3],
        [1, 4],
      ]),
    },
    () => paramSpec(rng, pools, 0, names),
  );
  const properties: JsonObject = {};
  for (const p of params) properties[p.name] = schemaOf(p);
  const definition: ToolDefinition = {
    name,
    description: rng.pick(DESCRIPTIONS)(verb.verb, n),
    parameters: { type: 'object', properties, required: params.filter((p) => p.required).map((p) => p.name) },
  };
  return { verb, noun: n, definition, params };
}

/** A tool with the same noun and another verb: the near-but-wrong neighbour of `tool`. */
export function neighbourTool(
  rng: Rng,
  pools: Pools,
  taken: Set<string>,
  tool: GeneratedTool,
): GeneratedTool {
  for (;;) {
    const t = generateTool(rng, pools, taken, tool.noun);
    if (t.verb.verb !== tool.verb.verb) return t;
  }
}

export interface FilledParam {
  readonly spec: ParamSpec;
  readonly value: JsonValue;
  /** The phrase the request uses for it. */
  readonly phrase: string;
}

/** Parameter phrasings; index % 5 === 4 is held out for validation. */
const PARAM_STYLES: readonly ((w: string, v: string) => string)[] = [
  (w, v) => `${w} ${v}`,
  (w, v) => `${w} = ${v}`,
  (w, v) => `${w} set to ${v}`,
  (w, v) => `${v} as the ${w}`,
  (w, v) => `the ${w} ${v}`,
  (w, v) => `${w}: ${v}`,
  (w, v) => `${w} of ${v}`,
  (w, v) => `a ${w} of ${v}`,
  (w, v) => `${v} for the ${w}`,
  (w, v) => `${w} being ${v}`,
  (w, v) => `${w} "${v}"`,
  (w, v) => `${w}=${v}`,
  (w, v) => `${w} should be ${v}`,
  (w, v) => `use ${v} for ${w}`,
  (w, v) => `${w} is ${v}`,
];

export type Split = 'train' | 'val';

/** Templates of a list that belong to a split: every fifth is held out for validation. */
export function forSplit<T>(items: readonly T[], split: Split): T[] {
  return items.filter((_, i) => (i % 5 === 4) === (split === 'val'));
}

function valueText(v: JsonValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function fillParam(rng: Rng, pools: Pools, spec: ParamSpec, split: Split, prefix = ''): FilledParam {
  const style = rng.pick(forSplit(PARAM_STYLES, split));
  if (spec.kind === 'object') {
    const kids = (spec.children ?? []).map((c) => fillParam(rng, pools, c, split, `${spec.words} `));
    const value: JsonObject = {};
    for (const k of kids) value[k.spec.name] = k.value;
    return { spec, value, phrase: kids.map((k) => k.phrase).join(' and ') };
  }
  const value = randomValue(rng, spec.kind, pools, spec.choices);
  return { spec, value, phrase: style(prefix + spec.words, valueText(value)) };
}

/** Values for the required parameters and some optional ones. */
export function fillArguments(rng: Rng, pools: Pools, tool: GeneratedTool, split: Split): FilledParam[] {
  return tool.params.filter((p) => p.required || rng.chance(0.5)).map((p) => fillParam(rng, pools, p, split));
}

export function argumentsOf(filled: readonly FilledParam[]): JsonObject {
  const args: JsonObject = {};
  for (const f of filled) args[f.spec.name] = f.value;
  return args;
}

function joinPhrases(rng: Rng, phrases: string[]): string {
  if (phrases.length <= 1) return phrases.join('');
  const sep = rng.pick([', ', '; ', ', and ']);
  return sep === ', and '
    ? `${phrases.slice(0, -1).join(', ')} and ${phrases[phrases.length - 1]}`
    : phrases.join(sep);
}

/** Request sentences: {V} verb phrase, {N} the tool's noun, {A} the argument phrases. */
const REQUESTS: readonly string[] = [
  'Please {V} the {N} for {A}.',
  'Can you {V} the {N}? {A}.',
  'I need you to {V} the {N} with {A}.',
  '{V} {N}: {A}.',
  'Could you {V} a {N} using {A}?',
  '{V} the {N} where {A}, please.',
  'Hey, {V} the {N} for me. Use {A}.',
  "I'd like to {V} the {N}, {A}.",
  'Quick one: {V} the {N} ({A}).',
  '{A}. Now {V} the {N}.',
  'Would you {V} the {N}? Details: {A}.',
  'Go ahead and {V} the {N} with {A}.',
  'My request: {V} the {N}. {A}.',
  '{V} the {N} please, {A}.',
  'Help me {V} the {N} given {A}.',
  'I want to {V} a {N}. {A}.',
  'Time to {V} the {N}: {A}.',
  'Can we {V} the {N}? Here is what I have: {A}.',
  'Please {V} my {N} ({A}).',
  'Task for you: {V} the {N} with {A}.',
  '{V} the {N}.',
  'Hi! Could you {V} the {N}? {A}.',
  'We should {V} the {N} now; {A}.',
  'Using {A}, {V} the {N}.',
  'Kindly {V} the {N}, with {A}.',
];

export function requestFor(rng: Rng, tool: GeneratedTool, filled: FilledParam[], split: Split): string {
  const phrases = filled.map((f) => f.phrase);
  const frames = forSplit(REQUESTS, split).filter((f) =>
    phrases.length ? f.includes('{A}') : !f.includes('{A}'),
  );
  const frame = frames.length ? rng.pick(frames) : '{V} the {N}.';
  const say = rng.pick(tool.verb.says);
  let text = frame.replace('{N}', tool.noun).replace('{A}', joinPhrases(rng, phrases));
  text = text.startsWith('{V}') ? text.replace('{V}', capitalize(say)) : text.replace('{V}', say);
  return text.charAt(0).toUpperCase() + text.slice(1);
}
