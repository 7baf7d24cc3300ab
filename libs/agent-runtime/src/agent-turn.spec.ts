import {
  AgentTurn,
  CheckpointRecordError,
  EMPTY_CHECKPOINT,
  parseCheckpoint,
  type AgentTurnStart,
} from './agent-turn.js';
import { systemTurn, taskTurn, TURN_SEPARATOR } from './chat-format.js';
import { ByteTokenizer } from './text-tokenizer.js';

// The turn protocol on its own: what is fed, how tokens are counted, what is checkpointed. Logits are
// made up (one-hot), so every sampled token is chosen by the test.

const tokenizer = new ByteTokenizer();
const V = 320;
const byteId = (ch: string) => tokenizer.encode(ch)[0];
/** Logits that make `ch` the only token worth sampling (temperature 0). */
const pick = (ch: string) => {
  const logits = new Float32Array(V).fill(-1e9);
  logits[byteId(ch)] = 10;
  return logits;
};

function start(overrides: Partial<AgentTurnStart> = {}): AgentTurnStart {
  return {
    taskId: 'tsk_1',
    checkpoint: EMPTY_CHECKPOINT,
    tokensSeen: 0,
    system: 'Be a goose.',
    input: 'Hi',
    tokenizer,
    generator: { tokenizer, sampling: { temperature: 0 }, maxTokens: 8, seed: 1 },
    outputIds: [],
    output: '',
    ...overrides,
  };
}

describe('AgentTurn', () => {
  it('feeds the system turn once and the task turn, counting them as the input', () => {
    const turn = AgentTurn.begin(start());
    const expected = tokenizer.encode(systemTurn('Be a goose.') + taskTurn('Hi'));
    expect([...turn.feed, turn.pending]).toEqual(expected);
    expect(turn).toMatchObject({ fresh: true, tokensIn: expected.length, seenBefore: 0, replayed: 0 });

    const later = AgentTurn.begin(
      start({ checkpoint: { v: 1, pending: [7], systemFed: true }, tokensSeen: 50 }),
    );
    expect([...later.feed, later.pending]).toEqual([7, ...tokenizer.encode(taskTurn('Hi'))]);
    expect(later.seenBefore).toBe(50);
  });

  it("closes a fork's unfinished turn before the new task", () => {
    const forked = AgentTurn.begin(start()).checkpoint();
    const turn = AgentTurn.begin(start({ taskId: 'tsk_2', checkpoint: forked }));
    const close = tokenizer.encode(TURN_SEPARATOR);
    expect(turn.feed.slice(0, forked.pending.length + close.length)).toEqual([...forked.pending, ...close]);
    expect(turn.fresh).toBe(true);
  });

  it('generates, stops at the turn separator, and closes the turn so tokensSeen adds up exactly', () => {
    const turn = AgentTurn.begin(start({ tokensSeen: 10 }));
    let tokensSeen = 10 + turn.feed.length;
    const text: string[] = [];
    for (const ch of ['o', 'k', '\n', '\n']) {
      tokensSeen++; // the step that consumed the pending token
      const next = turn.accept(pick(ch));
      text.push(next.text);
      if (next.finish) break;
    }
    expect(turn.generator.finish).toBe('stop');
    const { closing, flushText } = turn.close('stop');
    expect(flushText).toBe('');
    tokensSeen += closing.length;
    const final = turn.finish(tokensSeen);
    expect(final.checkpoint).toEqual({ v: 1, pending: [], systemFed: true });
    expect(tokensSeen - 10).toBe(final.tokensIn + turn.tokensOut);
    expect(text.join('')).toBe('ok');
  });

  it('resumes a task from its mid-task checkpoint, feeding again only what clients saw after it', () => {
    const first = AgentTurn.begin(start());
    first.accept(pick('a'));
    const checkpoint = first.checkpoint();
    const seen = [first.generator.outputTokens[0], byteId('b'), byteId('c')];
    const resumed = AgentTurn.begin(start({ checkpoint, outputIds: seen, output: 'abc' }));
    expect(resumed).toMatchObject({ fresh: false, replayed: 2, tokensIn: first.tokensIn });
    expect([...resumed.feed, resumed.pending]).toEqual([...checkpoint.pending, byteId('b'), byteId('c')]);
    expect(resumed.tokensOut).toBe(3);
    expect(resumed.replayMismatch).toBeUndefined();
  });

  it('checkpoints a prompt cut short by a drain with the rest of it pending', () => {
    const turn = AgentTurn.begin(start());
    const rest = turn.feed.slice(5);
    const record = turn.checkpoint(rest);
    expect(record.pending).toEqual(rest);
    expect(record.task).toMatchObject({ id: 'tsk_1', outputTokens: 0, tokensIn: turn.tokensIn });
    expect(parseCheckpoint(JSON.parse(JSON.stringify(record)))).toEqual(record);
  });
});

describe('checkpoint records', () => {
  it('reads an absent record as a new agent', () => {
    expect(parseCheckpoint(undefined)).toEqual(EMPTY_CHECKPOINT);
  });

  it.each([
    [{ v: 2, pending: [], systemFed: true }, /^the agent's checkpoint record cannot be used: v: /],
    [{ v: 1, pending: 5, systemFed: true }, /: pending: /],
    [{ v: 1, pending: [-1], systemFed: true }, /: pending\.0: /],
    [{ v: 1, pending: [], systemFed: true, task: { id: 't' } }, /: task\.outputTokens: /],
    [
      {
        v: 1,
        pending: [],
        systemFed: true,
        task: { id: 't', outputTokens: 0, tokensIn: 1, seenBefore: 0, generator: { v: 9 } },
      },
      /: task\.generator: a generator snapshot of version 1/,
    ],
    ['junk', /: \(record\): /],
  ])('refuses %j naming the field', (raw, message) => {
    expect(() => parseCheckpoint(raw)).toThrow(CheckpointRecordError);
    expect(() => parseCheckpoint(raw)).toThrow(message);
  });
});
