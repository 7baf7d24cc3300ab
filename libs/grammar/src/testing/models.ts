/**
 * Test and benchmark support: the two vocabularies and random-weight models the matcher is exercised with,
 * opened through the engine, and a seeded sampler that draws from masked logits.
 *
 * The byte model is the embedded model of libs/agent-runtime (same shape, same seed, so the same weights),
 * built here through the engine because agent-runtime will depend on this library, not the reverse.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkpointFingerprint,
  loadCheckpoint,
  randomCheckpoint,
  Rwkv7Engine,
  WorldTokenizer,
  END_OF_TEXT_ID,
} from '@gooseherd/engine';
import type { TokenVocabulary } from '../constrained-decoding.js';

/** libs/agent-runtime EMBEDDED_MODEL_SHAPE and EMBEDDED_MODEL_SEED. */
export const EMBEDDED_SHAPE = { nLayer: 4, nEmbd: 256, headSize: 64, vocabSize: 320 } as const;
export const EMBEDDED_SEED = 7;

export function fixtureDir(): string {
  const fromEnv = process.env['GOOSEHERD_FIXTURES'];
  return fromEnv ? path.resolve(fromEnv) : path.resolve(__dirname, '../../../..', '../shared/fixtures/rwkv7');
}

export function worldVocabPath(): string {
  return path.join(fixtureDir(), 'rwkv_vocab_v20230424.txt');
}

export function fixturesPresent(): boolean {
  return fs.existsSync(worldVocabPath()) && fs.existsSync(path.join(fixtureDir(), 'rwkv7-tiny-A.pth'));
}

export interface TestTokenizer extends TokenVocabulary {
  encode(text: string): number[];
  decodeBytes(ids: readonly number[]): Uint8Array;
}

export function worldTokenizer(): TestTokenizer {
  const w = WorldTokenizer.fromFile(worldVocabPath());
  return {
    vocabSize: w.vocabSize,
    endOfTextId: END_OF_TEXT_ID,
    tokenBytes: (id) => w.tokenBytes(id),
    encode: (t) => w.encode(t),
    decodeBytes: (ids) => w.decodeBytes(ids),
  };
}

/** Id 0 = end-of-text, ids 1..256 = bytes 0..255 (agent-runtime ByteTokenizer). */
export function byteTokenizer(): TestTokenizer {
  return {
    vocabSize: 257,
    endOfTextId: 0,
    tokenBytes: (id) => (id === 0 ? new Uint8Array(0) : Uint8Array.of(id - 1)),
    encode: (t) => Array.from(new TextEncoder().encode(t), (b) => b + 1),
    decodeBytes: (ids) =>
      Uint8Array.from(
        ids.filter((i) => i > 0),
        (i) => i - 1,
      ),
  };
}

const engineOptions = {
  threads: 1,
  spinning: false,
  cacheDir: path.join(os.tmpdir(), 'gooseherd-grammar-tests', 'cache'),
};

export async function worldTinyModel(): Promise<Rwkv7Engine> {
  const ckpt = await loadCheckpoint(path.join(fixtureDir(), 'rwkv7-tiny-A.pth'));
  const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), engineOptions);
  await engine.warmUp(['step', 'prefill']);
  return engine;
}

export async function embeddedByteModel(): Promise<Rwkv7Engine> {
  const ckpt = randomCheckpoint(EMBEDDED_SHAPE, EMBEDDED_SEED);
  const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), engineOptions);
  await engine.warmUp(['step', 'prefill']);
  return engine;
}

// Module-scope aliases: under Jest (a vm context) a global lookup such as `Math` in a hot loop goes through
// the context's interceptors, about 25x slower (engine/src/tokenizer/byte-trie.ts says the same).
const imul = Math.imul;
const exp = Math.exp;

/** mulberry32: a small seeded PRNG, so a failing draw can be reproduced from its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Softmax sampling (inverse CDF, one draw) from a row of logits; -Infinity entries are never drawn. */
export function sampleFromLogits(logits: Float32Array, random: () => number, temperature = 1): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) throw new Error('every token is masked');
  let total = 0;
  for (let i = 0; i < logits.length; i++)
    if (logits[i] !== -Infinity) total += exp((logits[i] - max) / temperature);
  let u = random() * total;
  let lastAllowed = -1;
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] === -Infinity) continue;
    lastAllowed = i;
    u -= exp((logits[i] - max) / temperature);
    if (u <= 0) return i;
  }
  return lastAllowed; // rounding left a sliver of u
}
