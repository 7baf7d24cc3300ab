import {
  parseAssistantTurn,
  parseSystemTurn,
  TURN_SEPARATOR,
  type JsonValue,
} from '@gooseherd/agent-runtime';
import { readBrown, readWordNet } from './corpora.js';
import { documents } from './make-data.js';
import { Rng } from './rng.js';
import { forSplit } from './tools.js';
import { agentTranscript, memoryTranscript, type Ctx } from './transcripts.js';
import { buildPools, type Pools } from './vocabulary.js';

let pools: Pools;
let brown: string[];

beforeAll(() => {
  brown = readBrown();
  pools = buildPools(readWordNet(), brown);
});

const ctx = (seed: number, split: 'train' | 'val' = 'train'): Ctx => ({ rng: new Rng(seed), pools, split });

/** Leaf values of a JSON value, as the text a user would type. */
function leaves(v: JsonValue): string[] {
  if (v !== null && typeof v === 'object')
    return Object.values(v as Record<string, JsonValue>).flatMap((x) => leaves(x));
  return [typeof v === 'string' ? v : JSON.stringify(v)];
}

describe('training data', () => {
  it('reads thousands of English glosses, nouns and Brown paragraphs from the registry packages', () => {
    expect(pools.glosses.length).toBeGreaterThan(100_000);
    expect(pools.nouns.length).toBeGreaterThan(20_000);
    expect(brown.length).toBeGreaterThan(10_000);
    expect(brown.some((p) => p.includes('/nn') || p.includes('/at '))).toBe(false); // POS tags stripped
  });

  it('is deterministic: the same seed gives the same documents, another seed others', () => {
    const take = (seed: number) => {
      const it = documents(pools, brown, 'train', seed);
      return Array.from({ length: 30 }, () => it.next().value!.text).join('\0');
    };
    expect(take(5)).toBe(take(5));
    expect(take(5)).not.toBe(take(6));
  });

  it('writes agent transcripts in the exact dialect: listed tools, parseable calls, values copied from the request', () => {
    let calls = 0;
    for (let seed = 0; seed < 300; seed++) {
      const doc = agentTranscript(ctx(seed));
      const turns = doc.text.split(TURN_SEPARATOR).filter(Boolean);
      const { tools } = parseSystemTurn(turns[0] + TURN_SEPARATOR);
      const names = new Set(tools.map((t) => t.name));
      let lastUser = '';
      for (const turn of turns.slice(1)) {
        expect(turn).toMatch(/^(User|Assistant|Observation): /);
        if (turn.startsWith('User: ')) lastUser = turn;
        if (!turn.startsWith('Assistant: ')) continue;
        const parsed = parseAssistantTurn(turn.slice('Assistant:'.length));
        expect(parsed.invalid).toEqual([]);
        for (const call of parsed.calls) {
          calls++;
          expect(names.has(call.name)).toBe(true);
          for (const value of leaves(call.arguments)) expect(lastUser).toContain(value);
        }
      }
    }
    expect(calls).toBeGreaterThan(100);
  });

  it('cuts evaluation cases at the Assistant: the model must answer after', () => {
    for (let seed = 0; seed < 50; seed++) {
      for (const c of [...agentTranscript(ctx(seed)).cases, ...memoryTranscript(ctx(seed)).cases]) {
        expect(c.prompt.endsWith(`${TURN_SEPARATOR}Assistant:`)).toBe(true);
      }
    }
  });

  it('asks memory questions about the fact stated before the filler turns', () => {
    const doc = memoryTranscript(ctx(3), 10);
    const c = doc.cases[0];
    const value =
      c.expect.type === 'answer' ? c.expect.mustContain[0] : leaves(c.expect.calls[0].arguments)[0];
    const firstUser = doc.text.indexOf('User: ');
    expect(doc.text.indexOf(value, firstUser)).toBeLessThan(doc.text.indexOf('User: ', firstUser + 1));
    expect(doc.text.split('User: ').length).toBeGreaterThanOrEqual(12);
  });

  it('holds every fifth phrasing out of training, for validation only', () => {
    const items = Array.from({ length: 23 }, (_, i) => i);
    const train = forSplit(items, 'train');
    const val = forSplit(items, 'val');
    expect(val).toEqual([4, 9, 14, 19]);
    expect(train.filter((i) => val.includes(i))).toEqual([]);
    expect(train.length + val.length).toBe(items.length);
  });
});
