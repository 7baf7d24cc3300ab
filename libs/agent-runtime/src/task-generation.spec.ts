import * as path from 'node:path';
import type { LoadedModel } from './model-loader.js';
import {
  TaskGenerator,
  unfinishedUtf8Tail,
  type GenerationFinish,
  type TaskGeneratorOptions,
} from './task-generation.js';
import { ByteTokenizer, WorldTextTokenizer, type TextTokenizer } from './text-tokenizer.js';
import { fixtureDir, testModel } from './testing/test-model.js';

const bytes = new ByteTokenizer();
const V = 320; // the embedded model's logits
const GREEDY = { temperature: 0, presencePenalty: 0, frequencyPenalty: 0 };

/** Logits whose argmax is `token`: the generator's input, fixed so a test picks the generated text. */
function forcing(token: number, v = V): Float32Array {
  const logits = new Float32Array(v);
  logits[token] = 100;
  return logits;
}

interface Run {
  gen: TaskGenerator;
  deltas: string[];
  finish?: GenerationFinish;
}

/** Generates exactly `tokens` (or until a finish), collecting every published delta. */
function generate(tokens: number[], options: Partial<TaskGeneratorOptions> = {}, v = V): Run {
  const gen = new TaskGenerator({ tokenizer: bytes, sampling: GREEDY, maxTokens: 100, seed: 1, ...options });
  const run: Run = { gen, deltas: [] };
  for (const t of tokens) {
    const r = gen.accept(forcing(t, v));
    expect(r.token).toBe(t);
    run.deltas.push(r.text);
    run.finish = r.finish;
    if (r.finish) break;
  }
  return run;
}

/** Text the agent's state has consumed once the closing tokens are fed: all output but the pending last token. */
function consumedAfterClosing(
  gen: TaskGenerator,
  tokenizer: TextTokenizer = bytes,
  reason?: 'cancelled',
): string {
  const fed = gen.outputTokens.slice(0, -1).concat(gen.closingTokens(reason));
  return Buffer.concat(fed.map((t) => tokenizer.tokenBytes(t))).toString('utf8');
}

describe('TaskGenerator: streaming text', () => {
  it('never publishes part of a stop string split across tokens, and closes the turn after it', () => {
    const { gen, deltas, finish } = generate(bytes.encode(' Hi\n\nUser: more'), { stop: ['\n\nUser:'] });
    expect(finish).toBe('stop');
    expect(deltas.join('')).toBe('Hi');
    expect(gen.output).toBe('Hi');
    expect(deltas.some((d) => d.includes('\n'))).toBe(false);
    expect(gen.tokensOut).toBe(' Hi\n\nUser:'.length);
    expect(consumedAfterClosing(gen)).toBe(' Hi\n\nUser:\n\n');
  });

  it('does not feed the turn separator twice when the stop string is the separator', () => {
    const { gen, finish } = generate(bytes.encode(' Hello\n\nUser'));
    expect(finish).toBe('stop');
    expect(gen.output).toBe('Hello');
    expect(gen.closingTokens('stop')).toEqual([bytes.encode('\n')[0]]);
    expect(consumedAfterClosing(gen)).toBe(' Hello\n\n');
  });

  it('releases held-back text at maxTokens, so the deltas add up to the output', () => {
    const { gen, deltas, finish } = generate(bytes.encode(' ab\n\nU'), { stop: ['\n\nUser:'], maxTokens: 6 });
    expect(finish).toBe('length');
    expect(deltas.at(-1)).toBe('\n\nU');
    expect(deltas.join('')).toBe('ab\n\nU');
    expect(gen.output).toBe('ab\n\nU');
    expect(consumedAfterClosing(gen)).toBe(' ab\n\nU\n\n');
  });

  it('decodes a multi-byte character split across byte tokens only when it is complete', () => {
    const { gen, deltas, finish } = generate([...bytes.encode(' é世'), 0]);
    expect(deltas).toEqual(['', '', 'é', '', '', '世', '']);
    expect(finish).toBe('end_of_text');
    expect(gen.output).toBe('é世');
    // The end-of-text token is never fed; the separator is.
    expect(consumedAfterClosing(gen)).toBe(' é世\n\n');
  });

  it('at end-of-text in the middle of a character, flushes it as U+FFFD', () => {
    const { deltas, gen } = generate([...bytes.encode('ab'), 0xe4 + 1, 0]);
    expect(deltas).toEqual(['a', 'b', '', '\uFFFD']);
    expect(gen.output).toBe('ab\uFFFD');
  });

  it('strips one leading space only, even when it arrives after held-back text', () => {
    expect(generate(bytes.encode('  two'), { maxTokens: 5 }).gen.output).toBe(' two');
    // ' ' then '\n' (held: could start the stop) then 'x': the space is still the start of the output.
    const { gen, deltas } = generate(bytes.encode(' \nx'), { maxTokens: 3 });
    expect(deltas.join('')).toBe(gen.output);
    expect(gen.output).toBe('\nx');
  });

  it('with stop [] lets the separator through and ends only at maxTokens or end-of-text', () => {
    const { gen, finish } = generate(bytes.encode(' a\n\nb'), { stop: [], maxTokens: 5 });
    expect(finish).toBe('length');
    expect(gen.output).toBe('a\n\nb');
    expect(consumedAfterClosing(gen)).toBe(' a\n\nb\n\n');
  });

  it('on cancel, publishes what was held back and closes after the last sampled token', () => {
    const { gen, deltas } = generate(bytes.encode(' ok\n'), { maxTokens: 50 });
    expect(deltas.join('')).toBe('ok');
    expect(gen.cancel()).toBe('\n');
    expect(gen.output).toBe('ok\n');
    expect(() => gen.accept(forcing(66))).toThrow(/cancelled/);
    // The text already ends with one newline: only the second one is added.
    expect(consumedAfterClosing(gen, bytes, 'cancelled')).toBe(' ok\n\n');
  });

  it('cancelled before any token: the state just gets the separator', () => {
    const gen = new TaskGenerator({ tokenizer: bytes, maxTokens: 5, seed: 1 });
    expect(gen.cancel()).toBe('');
    expect(gen.closingTokens('cancelled')).toEqual(bytes.encode('\n\n'));
  });

  it('refuses a closing reason that contradicts how generation ended', () => {
    const { gen } = generate(bytes.encode(' a\n\n'));
    expect(() => gen.closingTokens('length')).toThrow(RangeError);
  });

  it('never samples a banned token', () => {
    const logits = forcing(300);
    logits[70] = 1;
    const gen = new TaskGenerator({
      tokenizer: bytes,
      sampling: GREEDY,
      maxTokens: 5,
      seed: 1,
      bannedTokens: [300],
    });
    expect(gen.accept(logits).token).toBe(70);
  });

  it('knows which bytes a streaming UTF-8 decoder still holds', () => {
    expect(unfinishedUtf8Tail(Uint8Array.of(0x61, 0xe4, 0xb8))).toBe(2);
    expect(unfinishedUtf8Tail(Uint8Array.of(0x61, 0xe4, 0xb8, 0xad))).toBe(0);
    expect(unfinishedUtf8Tail(Uint8Array.of(0xf0, 0x9f))).toBe(2);
    expect(unfinishedUtf8Tail(Uint8Array.of(0xe0, 0x80))).toBe(0); // invalid: already replaced
    expect(unfinishedUtf8Tail(Uint8Array.of(0xc3))).toBe(1);
    expect(unfinishedUtf8Tail(new Uint8Array(0))).toBe(0);
  });
});

describe('TaskGenerator: World tokens', () => {
  const dir = fixtureDir();
  if (!dir) {
    it('needs ../shared/fixtures/rwkv7 (absent here, so the World-token cases did not run)', () => {});
    return;
  }
  const world = WorldTextTokenizer.fromFile(path.join(dir, 'rwkv_vocab_v20230424.txt'));

  it('when the stop string ends inside a token, feeds only the bytes up to the stop, then the separator', () => {
    const tokens = world.encode(' Hi.\n\nUser: next');
    const { gen, deltas, finish } = generate(
      tokens,
      { tokenizer: world, stop: ['\n\nUs'], bannedTokens: [65530, 65531, 65532, 65533, 65534, 65535] },
      65536,
    );
    expect(finish).toBe('stop');
    expect(deltas.join('')).toBe('Hi.');
    expect(gen.output).toBe('Hi.');
    expect(consumedAfterClosing(gen, world)).toBe(' Hi.\n\nUs\n\n');
  });
});

describe('TaskGenerator: resuming after a crash', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await testModel();
  });

  interface Trace {
    output: string;
    tokens: number[];
    deltas: string[];
    finish?: GenerationFinish;
  }

  function options(sampling: TaskGeneratorOptions['sampling']): Omit<TaskGeneratorOptions, 'seed'> {
    return {
      tokenizer: model.tokenizer,
      sampling,
      maxTokens: 60,
      bannedTokens: model.bannedTokens,
      stop: ['\n\n', 'zz'],
    };
  }

  /** One task on the real engine; at `crashAt` tokens, snapshots, runs on to `crashAt + lost`, then resumes. */
  async function runTask(
    sampling: TaskGeneratorOptions['sampling'],
    crash?: { at: number; lost: number },
  ): Promise<Trace> {
    const { engine, tokenizer } = model;
    const prompt = await engine.prefill(
      tokenizer.encode('User: tell me a story\n\nAssistant:'),
      engine.zeroState(),
    );
    let gen = new TaskGenerator({ ...options(sampling), seed: 42 });
    let state = prompt.state;
    let logits = prompt.logits!;
    const deltas: string[] = [];
    let checkpoint: { snapshot: string; state: Float32Array; published: number } | undefined;
    for (;;) {
      const r = gen.accept(logits);
      deltas.push(r.text);
      if (r.finish) return { output: gen.output, tokens: [...gen.outputTokens], deltas, finish: r.finish };
      const beforeLast = state;
      ({ logits, state } = await engine.step([r.token], state));
      if (crash && gen.tokensOut === crash.at) {
        // Durable: the state before feeding the last token (pending = [it]) and the generator snapshot.
        checkpoint = {
          snapshot: JSON.stringify(gen.snapshot()),
          state: beforeLast,
          published: deltas.length,
        };
      }
      if (crash && checkpoint && gen.tokensOut === crash.at + crash.lost) {
        // Crash: everything since the checkpoint is lost except the published tokens and deltas.
        const published = gen.outputTokens.slice(crash.at);
        gen = TaskGenerator.restore(JSON.parse(checkpoint.snapshot), options(sampling));
        const replayed = gen.replay(published);
        expect(replayed.deltas).toEqual(deltas.slice(checkpoint.published));
        expect(replayed.finish).toBeUndefined();
        state = checkpoint.state;
        for (const t of [gen.outputTokens[crash.at - 1], ...published])
          ({ logits, state } = await engine.step([t], state));
        crash = undefined;
      }
    }
  }

  it.each([
    ['greedy', GREEDY],
    [
      'temperature 1, top-p 0.9, penalties',
      { temperature: 1, topP: 0.9, presencePenalty: 0.3, frequencyPenalty: 0.3 },
    ],
  ])('snapshot at K + replay(K..M) + continue equals an uninterrupted run (%s)', async (_name, sampling) => {
    const uninterrupted = await runTask(sampling);
    expect(uninterrupted.deltas.join('')).toBe(uninterrupted.output);
    expect(uninterrupted.tokens.length).toBeGreaterThan(10);
    for (const at of [1, 3, 7]) {
      const resumed = await runTask(sampling, { at, lost: 4 });
      expect(resumed.tokens).toEqual(uninterrupted.tokens);
      expect(resumed.output).toBe(uninterrupted.output);
      expect(resumed.finish).toBe(uninterrupted.finish);
    }
  });

  it('replay reports the finish it reaches, and a restored finished snapshot closes the same way', () => {
    const original = generate(bytes.encode(' é and \n\n'));
    const k = 3; // inside 'é' + ' ': the decoder holds half a character
    const partial = generate(bytes.encode(' é and \n\n').slice(0, k));
    const resumed = TaskGenerator.restore(JSON.parse(JSON.stringify(partial.gen.snapshot())), {
      tokenizer: bytes,
      sampling: GREEDY,
      maxTokens: 100,
    });
    const r = resumed.replay(original.gen.outputTokens.slice(k));
    expect(r.finish).toBe('stop');
    expect(partial.deltas.join('') + r.text).toBe(original.gen.output);
    expect(resumed.output).toBe(original.gen.output);
    expect(resumed.closingTokens()).toEqual(original.gen.closingTokens());
    const again = TaskGenerator.restore(original.gen.snapshot(), { tokenizer: bytes, maxTokens: 100 });
    expect(again.closingTokens('stop')).toEqual(original.gen.closingTokens());
    expect(() => again.replay([66])).toThrow(/finished/);
  });
});
