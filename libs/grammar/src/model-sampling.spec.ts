/**
 * The random-weight models write tool calls and structured messages with the mask applied to their real
 * logits, sampled at temperature 1: every call must parse with JSON.parse and validate against its tool's
 * original schema with an independent validator (ajv), in every tool-choice mode, on both vocabularies.
 */
import Ajv from 'ajv';
import type { Rwkv7Engine } from '@gooseherd/engine';
import { GrammarEngine } from './constrained-decoding.js';
import type { ConstraintSpec, ToolSpec } from './constraint-spec.js';
import { generateBatch, parseCalls } from './testing/constrained-generation.js';
import {
  byteTokenizer,
  embeddedByteModel,
  fixtureDir,
  fixturesPresent,
  worldTinyModel,
  worldTokenizer,
  type TestTokenizer,
} from './testing/models.js';
import { MESSAGE_SCHEMA, SCHEMA_SUITE } from './testing/schema-suite.js';

const ajv = new Ajv({ strict: false, allErrors: true });
const validators = new Map(SCHEMA_SUITE.map((t) => [t.name, ajv.compile(t.parameters as object)]));
const validateMessage = ajv.compile(MESSAGE_SCHEMA);
const PROMPT = 'User: Use the tools.\n\nAssistant:';

interface Tally {
  calls: number;
}

/** Checks one finished turn: its calls (and message, if any) and the turn's end; returns the call count. */
function checkTurn(text: string, allowed: readonly ToolSpec[], tally: Tally): void {
  expect(text.endsWith('\n\n')).toBe(true);
  const calls = parseCalls(text);
  for (const call of calls) {
    const tool = allowed.find((t) => t.name === call.name);
    if (!tool)
      throw new Error(
        `call to ${String(call.name)}, not one of ${allowed.map((t) => t.name).join(', ')}: ${text}`,
      );
    const validate = validators.get(tool.name)!;
    if (!validate(call.arguments))
      throw new Error(
        `${tool.name} arguments ${JSON.stringify(call.arguments)} fail: ${ajv.errorsText(validate.errors)}`,
      );
  }
  tally.calls += calls.length;
}

function decode(tok: TestTokenizer, ids: readonly number[]): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(tok.decodeBytes(ids));
}

function suiteFor(
  name: string,
  open: () => Promise<{ engine: Rwkv7Engine; tok: TestTokenizer; grammar: GrammarEngine }>,
  opts: { schemas: readonly ToolSpec[]; agents: number; minCalls: number },
): void {
  describe(name, () => {
    let engine: Rwkv7Engine;
    let tok: TestTokenizer;
    let grammar: GrammarEngine;
    let prompt: number[];
    const tally: Tally = { calls: 0 };

    beforeAll(async () => {
      ({ engine, tok, grammar } = await open());
      prompt = tok.encode(PROMPT);
    });

    it(`writes valid calls for ${opts.schemas.length} schemas with a named tool (${opts.agents} agents each)`, async () => {
      // One job per (schema, agent), each agent with its own schema in one batched engine step.
      const tools = opts.schemas.flatMap((tool) => Array<ToolSpec>(opts.agents).fill(tool));
      const specs = tools.map((tool): ConstraintSpec => ({
        tools: opts.schemas,
        toolChoice: { type: 'function', name: tool.name },
        parallelToolCalls: false,
      }));
      const run = await generateBatch({ engine, grammar, prompt, specs, seed: 1000, maxTokens: 400 });
      expect(run.terminated.every(Boolean)).toBe(true);
      for (const [job, ids] of run.tokens.entries()) {
        const text = decode(tok, ids);
        expect(parseCalls(text)).toHaveLength(1);
        checkTurn(text, [tools[job]], tally);
      }
      expect(tally.calls).toBeGreaterThanOrEqual(opts.minCalls);
    });

    it('with toolChoice required and parallel calls, writes one or more calls to any listed tool', async () => {
      const spec: ConstraintSpec = { tools: opts.schemas.slice(0, 6), toolChoice: 'required' };
      const run = await generateBatch({
        engine,
        grammar,
        prompt,
        specs: Array(16).fill(spec),
        seed: 7,
        maxTokens: 600,
      });
      let turnsWithTwo = 0;
      for (const [b, ids] of run.tokens.entries()) {
        if (!run.terminated[b]) continue; // a random model may chain calls past the cap
        const text = decode(tok, ids);
        expect(text).toMatch(/^ ?<tool_call>/);
        expect(parseCalls(text).length).toBeGreaterThanOrEqual(1);
        if (parseCalls(text).length > 1) turnsWithTwo++;
        // Between calls only the separator: nothing outside <tool_call>…</tool_call> but the turn's end.
        expect(text.replace(/^ /, '').replace(/<tool_call>[\s\S]*?<\/tool_call>/g, '')).toMatch(/^\n*$/);
        checkTurn(text, spec.tools!, tally);
      }
      expect(run.terminated.filter(Boolean).length).toBeGreaterThanOrEqual(8);
      expect(turnsWithTwo).toBeGreaterThan(0);
    });

    it('in auto mode, text is free until the model opens a call, then the call is constrained', async () => {
      const spec: ConstraintSpec = {
        tools: opts.schemas.slice(0, 8),
        toolChoice: 'auto',
        parallelToolCalls: false,
      };
      const forcedPrefix = tok.encode(' Let me check that.\n<tool_call>');
      const run = await generateBatch({
        engine,
        grammar,
        prompt,
        specs: Array(16).fill(spec),
        forcedPrefix,
        seed: 11,
        maxTokens: 400,
      });
      expect(run.terminated.every(Boolean)).toBe(true);
      for (const ids of run.tokens) {
        const text = `<tool_call>${decode(tok, ids)}`;
        expect(parseCalls(text)).toHaveLength(1);
        checkTurn(text, spec.tools!, tally);
      }
    });

    it('with responseFormat json_schema, the message validates and ends the turn', async () => {
      const spec: ConstraintSpec = {
        responseFormat: { type: 'json_schema', name: 'answer', schema: MESSAGE_SCHEMA },
      };
      const run = await generateBatch({
        engine,
        grammar,
        prompt,
        specs: Array(16).fill(spec),
        seed: 13,
        maxTokens: 400,
      });
      expect(run.terminated.every(Boolean)).toBe(true);
      for (const ids of run.tokens) {
        const text = decode(tok, ids);
        expect(text.endsWith('\n\n')).toBe(true);
        const value = JSON.parse(text);
        if (!validateMessage(value)) throw new Error(`${text}: ${ajv.errorsText(validateMessage.errors)}`);
      }
    });

    it('with json_schema and tools in auto mode, the turn is either calls or the message', async () => {
      const spec: ConstraintSpec = {
        tools: opts.schemas.slice(0, 3),
        toolChoice: 'auto',
        responseFormat: { type: 'json_schema', name: 'answer', schema: MESSAGE_SCHEMA },
      };
      const run = await generateBatch({
        engine,
        grammar,
        prompt,
        specs: Array(16).fill(spec),
        seed: 17,
        maxTokens: 500,
      });
      for (const [b, ids] of run.tokens.entries()) {
        if (!run.terminated[b]) continue;
        const text = decode(tok, ids).replace(/^ /, '');
        if (text.startsWith('<tool_call>')) checkTurn(text, spec.tools!, tally);
        else expect(validateMessage(JSON.parse(text))).toBe(true);
      }
      expect(run.terminated.filter(Boolean).length).toBeGreaterThanOrEqual(8);
    });

    it('with toolChoice none, the model never opens a call even when it starts to', async () => {
      const spec: ConstraintSpec = { tools: opts.schemas.slice(0, 3), toolChoice: 'none' };
      const forcedPrefix = tok.encode(' Calling <tool_call');
      const run = await generateBatch({
        engine,
        grammar,
        prompt,
        specs: Array(8).fill(spec),
        forcedPrefix,
        seed: 19,
        maxTokens: 60,
      });
      // Free text is not constrained to UTF-8 (a random model writes any bytes): look at the raw bytes.
      for (const ids of run.tokens)
        expect(`<tool_call${Buffer.from(tok.decodeBytes(ids)).toString('latin1')}`).not.toContain(
          '<tool_call>',
        );
    });

    afterAll(async () => {
      console.log(`${name}: ${tally.calls} constrained calls validated`);
      await engine?.release();
    });
  });
}

// 24 schemas × 38 agents = 912 named calls, plus the calls of the other modes (and the World suite's).
const TOTAL_AGENTS_BYTE = 38;
// One engine thread: on a shared 2-core machine, onnxruntime's thread pool contends badly with itself.
jest.setTimeout(300_000);

suiteFor(
  'byte vocabulary, embedded random model',
  async () => {
    const tok = byteTokenizer();
    return {
      engine: await embeddedByteModel(),
      tok,
      grammar: await GrammarEngine.create({ tokenizer: tok, logitCount: 320 }),
    };
  },
  { schemas: SCHEMA_SUITE, agents: TOTAL_AGENTS_BYTE, minCalls: SCHEMA_SUITE.length * TOTAL_AGENTS_BYTE },
);

if (fixturesPresent()) {
  suiteFor(
    'World vocabulary, rwkv7-tiny-A',
    async () => {
      const tok = worldTokenizer();
      return {
        engine: await worldTinyModel(),
        tok,
        grammar: await GrammarEngine.create({ tokenizer: tok, logitCount: 65536 }),
      };
    },
    { schemas: SCHEMA_SUITE.slice(0, 4), agents: 8, minCalls: 32 },
  );
} else {
  it(`needs the RWKV-7 fixtures in ${fixtureDir()} (absent here, so the World-vocabulary runs did not happen)`, () => {
    console.warn(`RWKV-7 fixtures not found in ${fixtureDir()}`);
  });
}
