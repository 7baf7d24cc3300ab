/**
 * Whole training documents: agent transcripts in the platform's exact chat + tool dialect (tool-dialect.ts),
 * memory tasks, and English prose. Each generator returns the document text and, for the cases an evaluation
 * can judge, what the model should do at the end of the prompt.
 */
import {
  renderAssistantTurn,
  renderObservations,
  renderSystemTurn,
  taskTurn,
  TURN_SEPARATOR,
  type JsonObject,
  type JsonValue,
  type ToolCall,
  type ToolDefinition,
} from '@gooseherd/agent-runtime';
import type { Rng } from './rng.js';
import {
  argumentsOf,
  fillArguments,
  forSplit,
  generateTool,
  neighbourTool,
  requestFor,
  type GeneratedTool,
  type Split,
} from './tools.js';
import { capitalize, pseudoWord, randomValue, type Pools } from './vocabulary.js';

export interface Ctx {
  readonly rng: Rng;
  readonly pools: Pools;
  readonly split: Split;
}

/** What the model should write after the case's prompt (for evaluation through the engine). */
export type Expectation =
  | { readonly type: 'call'; readonly calls: ToolCall[] }
  | { readonly type: 'answer'; readonly mustContain: string[] };

export interface EvalCase {
  readonly kind: string;
  /** Everything up to and including the `Assistant:` the model answers after. */
  readonly prompt: string;
  readonly expect: Expectation;
}

/** One exchange: the text that continues the document, and an optional evaluation case cut at its answer. */
interface Exchange {
  readonly text: string;
  readonly evalAt?: { readonly prefixLength: number; readonly expect: Expectation; readonly kind: string };
  /** A second case in the same exchange (the final answer after the observations). */
  readonly followUp?: { readonly prefixLength: number; readonly expect: Expectation; readonly kind: string };
}

const SYSTEMS = [
  'You are a helpful assistant.',
  'You are a helpful assistant with access to tools. Call a tool when it fits the request; otherwise answer directly.',
  'You are Goose, an agent that uses tools to help the user.',
  'Answer briefly. Use the listed tools when they are needed.',
  'You are an assistant for a small company. Be precise.',
  'You are a careful agent. Only call tools that are listed.',
  'Help the user. Copy values exactly when you call a tool.',
  'You are a concise assistant.',
];

const PREAMBLES = [
  'Sure.',
  'Let me do that.',
  'One moment.',
  'On it.',
  'Let me check.',
  'Okay, calling the tool.',
];

const ANSWERS_FROM_RESULT: readonly ((f: string, v: string, n: string) => string)[] = [
  (f, v) => `The ${f} is ${v}.`,
  (f, v, n) => `Done. The ${n} has ${f} ${v}.`,
  (f, v) => `Here it is: ${f} ${v}.`,
  (f, v) => `The result says the ${f} is ${v}.`,
  (f, v, n) => `I found the ${n}: its ${f} is ${v}.`,
  (f, v) => `${capitalize(f)}: ${v}.`,
  (f, v) => `It worked, and the ${f} came back as ${v}.`,
  (f, v, n) => `For that ${n}, the ${f} is ${v}.`,
  (f, v) => `Got it. ${capitalize(f)} is ${v}.`,
  (f, v) => `The tool reports ${f} = ${v}.`,
];

function text(v: JsonValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A tool's result: an object of 1..3 random fields, sometimes plain text, sometimes an error. */
function toolResult(
  c: Ctx,
  tool: GeneratedTool,
): { output: JsonValue; field: string; value: string; error?: string } {
  const { rng, pools } = c;
  if (rng.chance(0.08)) {
    const error = rng.pick([
      'not found',
      'permission denied',
      'rate limited',
      'invalid input',
      'service unavailable',
    ]);
    return { output: { error }, field: 'error', value: error, error };
  }
  const fields: JsonObject = {};
  const n = rng.int(1, 3);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.5)
      ? rng.pick(pools.nouns)
      : `${rng.pick(pools.nouns)}_${rng.pick(['id', 'name', 'count', 'status'])}`;
    fields[key] = randomValue(
      rng,
      rng.pick(['id', 'name', 'word', 'int', 'number', 'date', 'place'] as const),
      pools,
    );
  }
  const keys = Object.keys(fields);
  const field = rng.pick(keys);
  const value = text(fields[field]);
  if (rng.chance(0.25)) {
    return {
      output: `${capitalize(field.replace(/_/g, ' '))}: ${value}.`,
      field: field.replace(/_/g, ' '),
      value,
    };
  }
  if (rng.chance(0.3))
    return { output: { status: 'ok', [tool.noun]: fields }, field: field.replace(/_/g, ' '), value };
  return { output: fields, field: field.replace(/_/g, ' '), value };
}

function finalAnswer(
  c: Ctx,
  tool: GeneratedTool,
  r: { field: string; value: string; error?: string },
): string {
  if (r.error) return `I could not ${tool.verb.verb} the ${tool.noun}: ${r.error}.`;
  return c.rng.pick(forSplit(ANSWERS_FROM_RESULT, c.split))(r.field, r.value, tool.noun);
}

/** A tool-using exchange: request, call(s), observation(s), final answer. */
function toolExchange(c: Ctx, tools: GeneratedTool[], targets: GeneratedTool[]): Exchange {
  const { rng, pools, split } = c;
  const requests: string[] = [];
  const calls: ToolCall[] = [];
  for (const t of targets) {
    const filled = fillArguments(rng, pools, t, split);
    requests.push(requestFor(rng, t, filled, split));
    calls.push({ name: t.definition.name, arguments: argumentsOf(filled) });
  }
  const joiner = rng.pick([' Also, ', ' And then: ', ' ']);
  const user = requests
    .map((r, i) => (i > 0 && joiner === ' Also, ' ? r.charAt(0).toLowerCase() + r.slice(1) : r))
    .join(joiner);
  const prompt = taskTurn(user);
  const preamble = rng.chance(0.25) ? rng.pick(PREAMBLES) : '';
  const callTurn = renderAssistantTurn(preamble, calls).slice('Assistant:'.length);
  const results = targets.map((t) => toolResult(c, t));
  const answer = results.map((r, i) => finalAnswer(c, targets[i], r)).join(' ');
  const observed = renderObservations(results.map((r) => r.output));
  const textOut = `${prompt}${callTurn}${observed} ${answer}${TURN_SEPARATOR}`;
  void tools;
  return {
    text: textOut,
    evalAt: {
      prefixLength: prompt.length,
      expect: { type: 'call', calls },
      kind: targets.length > 1 ? 'multi-call' : 'call',
    },
    followUp: {
      prefixLength: prompt.length + callTurn.length + observed.length,
      expect: { type: 'answer', mustContain: results.map((r) => r.value) },
      kind: 'answer-uses-observation',
    },
  };
}

const SMALL_TALK: readonly (readonly [string, string])[] = [
  ['Hi!', 'Hello! How can I help you today?'],
  ['How are you?', "I'm doing well, thanks for asking. What can I do for you?"],
  ['Thanks, that was helpful.', "You're welcome! Let me know if you need anything else."],
  ['Good morning.', 'Good morning! What would you like to do?'],
  ['Who are you?', "I'm an assistant. I can answer questions and use the tools I am given."],
  ['Tell me something nice.', 'You are doing great, and every day is a chance to learn something new.'],
  ['Can you keep a secret?', 'I can keep it in this conversation, yes.'],
  ['Bye for now.', 'Goodbye! Come back any time.'],
  ['What can you do?', 'I can answer questions, follow instructions and call the tools listed for me.'],
  ["I'm bored.", 'How about learning a new word? Ask me what any word means.'],
];

function gloss(c: Ctx) {
  for (;;) {
    const g = c.rng.pick(c.pools.glosses);
    if (g.words[0].length > 2 && g.definition.length < 200) return g;
  }
}

/** A direct answer that needs no tool: definitions, usage examples, small talk, echo, structured replies. */
function directExchange(c: Ctx): Exchange {
  const { rng, pools, split } = c;
  const kind = rng.weighted<string>([
    [4, 'define'],
    [1, 'example'],
    [2, 'smalltalk'],
    [2, 'echo'],
    [2, 'json'],
  ]);
  let user: string;
  let answer: string;
  let must: string[];
  if (kind === 'define' || kind === 'example') {
    const g = gloss(c);
    const word = g.words[0];
    if (kind === 'example' && g.examples.length) {
      user = rng.pick(
        forSplit(
          [
            `Use "${word}" in a sentence.`,
            `Give me an example with the word ${word}.`,
            `How would I use ${word}?`,
            `Show "${word}" in context.`,
            `Example sentence for ${word}, please.`,
          ],
          split,
        ),
      );
      answer = `For example: "${g.examples[0]}"`;
      must = [g.examples[0]];
    } else {
      user = rng.pick(
        forSplit(
          [
            `What does "${word}" mean?`,
            `Define ${word}.`,
            `What is the meaning of the word ${word}?`,
            `Explain "${word}" to me.`,
            `What's a ${word}?`,
            `Meaning of ${word}?`,
            `Tell me what ${word} means.`,
            `I don't know the word "${word}". What is it?`,
            `Look up ${word} in your memory, not a tool.`,
            `Can you explain ${word}?`,
          ],
          split,
        ),
      );
      answer = `${capitalize(word)} (${g.pos}): ${g.definition}.`;
      must = [g.definition.slice(0, 40)];
    }
  } else if (kind === 'smalltalk') {
    [user, answer] = rng.pick(SMALL_TALK);
    must = [];
  } else if (kind === 'echo') {
    const s = rng.chance(0.5)
      ? String(randomValue(rng, 'id', pools))
      : `${pseudoWord(rng)} ${pseudoWord(rng)} ${rng.int(1, 999)}`;
    user = rng.pick(
      forSplit(
        [
          `Repeat exactly: ${s}`,
          `Say "${s}" back to me.`,
          `Echo this: ${s}`,
          `Copy this text: ${s}`,
          `Please write ${s} and nothing else.`,
        ],
        split,
      ),
    );
    answer = s;
    must = [s];
  } else {
    const keys = rng.sample(pools.nouns, rng.int(1, 3));
    const obj: JsonObject = {};
    const phrases: string[] = [];
    for (const k of keys) {
      const v = randomValue(rng, rng.pick(['name', 'int', 'word', 'id', 'bool'] as const), pools);
      obj[k] = v;
      phrases.push(`${k} ${text(v)}`);
    }
    user = rng.pick(
      forSplit(
        [
          `Reply only with JSON with the keys ${keys.join(', ')}: ${phrases.join(', ')}.`,
          `Give me a JSON object for ${phrases.join(' and ')}.`,
          `As JSON, please: ${phrases.join('; ')}.`,
          `Format this as a JSON object: ${phrases.join(', ')}.`,
          `Structured reply (JSON): ${phrases.join(', ')}.`,
        ],
        split,
      ),
    );
    answer = JSON.stringify(obj);
    must = [answer];
  }
  const prompt = taskTurn(user);
  return {
    text: `${prompt} ${answer}${TURN_SEPARATOR}`,
    evalAt: {
      prefixLength: prompt.length,
      expect: { type: 'answer', mustContain: must },
      kind: `direct-${kind}`,
    },
  };
}

/** The user asks for something only a near-but-wrong tool (same noun, another verb) would seem to do. */
function refusalExchange(c: Ctx, asked: GeneratedTool): Exchange {
  const { rng, pools, split } = c;
  const filled = fillArguments(rng, pools, asked, split);
  const prompt = taskTurn(requestFor(rng, asked, filled, split));
  const answer = rng.pick(
    forSplit(
      [
        `None of my tools can ${asked.verb.verb} a ${asked.noun}, so I can't do that.`,
        `I don't have a tool to ${asked.verb.verb} the ${asked.noun}.`,
        `Sorry, there is no tool here that can ${asked.verb.verb} a ${asked.noun}.`,
        `I can't ${asked.verb.verb} the ${asked.noun}: no listed tool does that.`,
        `That needs a tool to ${asked.verb.verb} the ${asked.noun}, and I don't have one.`,
      ],
      split,
    ),
  );
  return {
    text: `${prompt} ${answer}${TURN_SEPARATOR}`,
    evalAt: {
      prefixLength: prompt.length,
      expect: { type: 'answer', mustContain: [] },
      kind: 'no-tool-fits',
    },
  };
}

const CALC_NAMES = ['calculator', 'calc', 'evaluate_expression', 'math_eval'];

function calcTool(name: string): ToolDefinition {
  return {
    name,
    description: 'Evaluates an arithmetic expression.',
    parameters: { type: 'object', properties: { expression: { type: 'string' } }, required: ['expression'] },
  };
}

function calcExchange(c: Ctx, name: string): Exchange {
  const { rng, split } = c;
  const a = rng.int(2, rng.chance(0.5) ? 99 : 99999);
  const b = rng.int(2, rng.chance(0.5) ? 99 : 9999);
  const op = rng.pick(['+', '-', '*', '/']);
  const expression = `${a} ${op} ${b}`;
  const raw = op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
  const result = Math.round(raw * 10000) / 10000;
  const user = rng.pick(
    forSplit(
      [
        `What is ${expression}?`,
        `Calculate ${expression}.`,
        `Compute ${expression} for me.`,
        `How much is ${expression}?`,
        `Work out ${expression}, please.`,
        `${expression} = ?`,
        `Can you tell me ${expression}?`,
        `I need the value of ${expression}.`,
        `Solve ${expression}.`,
        `Quick maths: ${expression}`,
      ],
      split,
    ),
  );
  const prompt = taskTurn(user);
  const call = { name, arguments: { expression } };
  const answer = rng.pick(
    forSplit(
      [
        `${expression} = ${result}.`,
        `The answer is ${result}.`,
        `It comes to ${result}.`,
        `That is ${result}.`,
        `Result: ${result}.`,
      ],
      split,
    ),
  );
  return {
    text: `${prompt}${renderAssistantTurn('', [call]).slice('Assistant:'.length)}${renderObservations([{ result }])} ${answer}${TURN_SEPARATOR}`,
    evalAt: { prefixLength: prompt.length, expect: { type: 'call', calls: [call] }, kind: 'calculator' },
  };
}

export interface Doc {
  readonly text: string;
  readonly cases: EvalCase[];
}

/** An agent transcript: a system turn with generated tools, then one to four exchanges. */
export function agentTranscript(c: Ctx): Doc {
  const { rng, pools } = c;
  const taken = new Set<string>();
  const tools: GeneratedTool[] = Array.from(
    {
      length: rng.weighted([
        [2, 1],
        [3, 2],
        [3, 3],
        [2, 4],
        [1, 6],
      ]),
    },
    () => generateTool(rng, pools, taken),
  );
  // a near-but-wrong neighbour sometimes sits in the list, so the verb has to be read, not just the noun
  if (rng.chance(0.35)) tools.splice(rng.int(0, tools.length), 0, neighbourTool(rng, pools, taken, tools[0]));
  const calcName = rng.chance(0.3) ? rng.pick(CALC_NAMES) : undefined;
  const definitions = tools.map((t) => t.definition);
  if (calcName) definitions.splice(rng.int(0, definitions.length), 0, calcTool(calcName));
  const noTools = rng.chance(0.08);
  const system = renderSystemTurn(rng.pick(SYSTEMS), noTools ? [] : definitions);
  let doc = system;
  const cases: EvalCase[] = [];
  const n = rng.weighted([
    [4, 1],
    [3, 2],
    [2, 3],
    [1, 4],
  ]);
  for (let i = 0; i < n; i++) {
    let ex: Exchange;
    const roll = rng.float();
    if (noTools || roll < 0.25) ex = directExchange(c);
    else if (calcName && roll < 0.4) ex = calcExchange(c, calcName);
    else if (roll < 0.5) {
      const listed = new Set(tools.map((t) => `${t.verb.verb}/${t.noun}`));
      const base = rng.pick(tools);
      const asked = neighbourTool(rng, pools, new Set(taken), base);
      ex = listed.has(`${asked.verb.verb}/${asked.noun}`) ? directExchange(c) : refusalExchange(c, asked);
    } else {
      const targets = rng.chance(0.15) && tools.length > 1 ? rng.sample(tools, 2) : [rng.pick(tools)];
      ex = toolExchange(c, tools, targets);
    }
    if (ex.evalAt) {
      cases.push({
        kind: ex.evalAt.kind,
        prompt: doc + ex.text.slice(0, ex.evalAt.prefixLength),
        expect: ex.evalAt.expect,
      });
    }
    if (ex.followUp) {
      const f = ex.followUp;
      cases.push({ kind: f.kind, prompt: doc + ex.text.slice(0, f.prefixLength), expect: f.expect });
    }
    doc += ex.text;
  }
  return { text: doc, cases };
}

const MEMORY_TOOLS: ToolDefinition[] = [
  {
    name: 'memory_write',
    description: 'Stores a fact in long-term memory.',
    parameters: {
      type: 'object',
      properties: { key: { type: 'string' }, value: { type: 'string' } },
      required: ['key', 'value'],
    },
  },
  {
    name: 'memory_search',
    description: 'Finds facts in long-term memory.',
    parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
  },
];

/**
 * A fact, then `filler` exchanges of other talk, then a question about the fact. With the memory tools the
 * fact is written with memory_write and looked up with memory_search when asked.
 */
export function memoryTranscript(
  c: Ctx,
  filler = c.rng.weighted([
    [4, c.rng.int(1, 4)],
    [3, c.rng.int(5, 15)],
    [1, c.rng.int(16, 60)],
  ]),
): Doc {
  const { rng, pools, split } = c;
  const withTools = rng.chance(0.35);
  const thing = rng.weighted<() => string>([
    [2, () => `${rng.pick(pools.nouns)} code`],
    [2, () => `${rng.pick(pools.nouns)} number`],
    [2, () => `favourite ${rng.pick(pools.nouns)}`],
    [1, () => `${rng.pick(pools.nouns)}'s name`],
    [1, () => `${rng.pick(pools.nouns)} password`],
  ])();
  const value = String(randomValue(rng, rng.pick(['id', 'name', 'word', 'int', 'place'] as const), pools));
  let doc = renderSystemTurn(rng.pick(SYSTEMS), withTools ? MEMORY_TOOLS : []);
  const tell = rng.pick(
    forSplit(
      [
        `Remember that my ${thing} is ${value}.`,
        `Note this: my ${thing} is ${value}.`,
        `My ${thing} is ${value}. Keep that in mind.`,
        `For later: ${thing} = ${value}.`,
        `Please memorise my ${thing}: ${value}.`,
      ],
      split,
    ),
  );
  if (withTools) {
    doc += `${taskTurn(tell)}${renderAssistantTurn('', [{ name: 'memory_write', arguments: { key: thing, value } }]).slice(10)}`;
    doc += `${renderObservations([{ ok: true }])} ${rng.pick(['Saved.', 'Noted, I stored it.', 'Done, it is in memory.'])}${TURN_SEPARATOR}`;
  } else {
    doc += `${taskTurn(tell)} ${rng.pick([`Got it: your ${thing} is ${value}.`, `Okay, I'll remember your ${thing}.`, 'Noted.'])}${TURN_SEPARATOR}`;
  }
  for (let i = 0; i < filler; i++) doc += directExchange(c).text;
  const ask = rng.pick(
    forSplit(
      [
        `What is my ${thing}?`,
        `Remind me of my ${thing}.`,
        `Do you remember my ${thing}?`,
        `Tell me my ${thing} again.`,
        `What did I say my ${thing} was?`,
      ],
      split,
    ),
  );
  const prompt = taskTurn(ask);
  const answer = `Your ${thing} is ${value}.`;
  const cases: EvalCase[] = [];
  if (withTools) {
    const call = { name: 'memory_search', arguments: { query: thing } };
    cases.push({ kind: 'memory-tool', prompt: doc + prompt, expect: { type: 'call', calls: [call] } });
    doc += `${prompt}${renderAssistantTurn('', [call]).slice(10)}${renderObservations([{ results: [{ key: thing, value }] }])} ${answer}${TURN_SEPARATOR}`;
  } else {
    cases.push({
      kind: 'memory-bare',
      prompt: doc + prompt,
      expect: { type: 'answer', mustContain: [value] },
    });
    doc += `${prompt} ${answer}${TURN_SEPARATOR}`;
  }
  return { text: doc, cases };
}

/** English prose: Brown paragraphs or WordNet dictionary entries. */
export function proseDoc(c: Ctx, brownPool: readonly string[]): Doc {
  const { rng, pools } = c;
  if (rng.chance(0.55)) {
    const start = rng.int(0, brownPool.length - 1);
    const n = rng.int(2, 8);
    return { text: brownPool.slice(start, start + n).join('\n'), cases: [] };
  }
  const entries: string[] = [];
  for (let i = rng.int(4, 16); i > 0; i--) {
    const g = rng.pick(pools.glosses);
    const ex = g.examples.length ? ` Example: "${rng.pick(g.examples)}"` : '';
    const syn = g.words.length > 1 ? ` Also: ${g.words.slice(1).join(', ')}.` : '';
    entries.push(`${g.words[0]} (${g.pos}): ${g.definition}.${syn}${ex}`);
  }
  return { text: entries.join('\n'), cases: [] };
}
