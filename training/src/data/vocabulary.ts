/**
 * Word pools and random values for the generated transcripts. Tool nouns and parameter names come from
 * WordNet's thousands of single-word nouns, values from random strings and numbers, so the pools are far too
 * large to learn by heart: the model must copy (the first probe memorised ~150 cities and ~100 tool nouns).
 */
import type { Gloss } from './corpora.js';
import type { Rng } from './rng.js';

export interface Pools {
  /** Single lowercase words, 3..12 letters. */
  readonly nouns: string[];
  readonly adjectives: string[];
  readonly glosses: Gloss[];
  readonly brown: string[];
}

export function buildPools(glosses: Gloss[], brown: string[]): Pools {
  const single = (pos: Gloss['pos']) => [
    ...new Set(
      glosses
        .filter((g) => g.pos === pos)
        .flatMap((g) => g.words)
        .filter((w) => /^[a-z]{3,12}$/.test(w)),
    ),
  ];
  return { nouns: single('noun'), adjectives: single('adjective'), glosses, brown };
}

/** Verbs a tool name is built from, each with the phrasings a user may use for it. */
export const VERBS: readonly { readonly verb: string; readonly says: readonly string[] }[] = [
  { verb: 'get', says: ['get', 'fetch', 'look up', 'retrieve', 'show me', 'find'] },
  { verb: 'create', says: ['create', 'make', 'set up', 'open', 'add a new'] },
  { verb: 'update', says: ['update', 'change', 'modify', 'edit'] },
  { verb: 'delete', says: ['delete', 'remove', 'erase', 'drop'] },
  { verb: 'list', says: ['list', 'enumerate', 'show all'] },
  { verb: 'search', says: ['search', 'search for', 'look for', 'query'] },
  { verb: 'send', says: ['send', 'deliver', 'dispatch'] },
  { verb: 'book', says: ['book', 'reserve'] },
  { verb: 'cancel', says: ['cancel', 'call off', 'abort'] },
  { verb: 'check', says: ['check', 'verify', 'inspect'] },
  { verb: 'convert', says: ['convert', 'transform'] },
  { verb: 'translate', says: ['translate'] },
  { verb: 'schedule', says: ['schedule', 'plan', 'arrange'] },
  { verb: 'track', says: ['track', 'follow', 'monitor'] },
  { verb: 'count', says: ['count', 'tally'] },
  { verb: 'rename', says: ['rename', 'relabel'] },
  { verb: 'archive', says: ['archive', 'file away'] },
  { verb: 'publish', says: ['publish', 'post', 'release'] },
  { verb: 'share', says: ['share'] },
  { verb: 'download', says: ['download'] },
  { verb: 'upload', says: ['upload'] },
  { verb: 'rate', says: ['rate', 'score'] },
  { verb: 'summarize', says: ['summarize', 'sum up'] },
  { verb: 'start', says: ['start', 'launch', 'begin'] },
  { verb: 'stop', says: ['stop', 'halt', 'end'] },
  { verb: 'validate', says: ['validate', 'check the validity of'] },
  { verb: 'estimate', says: ['estimate', 'work out'] },
  { verb: 'assign', says: ['assign', 'allocate'] },
  { verb: 'lock', says: ['lock', 'secure'] },
  { verb: 'order', says: ['order', 'buy', 'purchase'] },
];

const ONSETS = [
  'b',
  'br',
  'c',
  'ch',
  'd',
  'dr',
  'f',
  'fl',
  'g',
  'gr',
  'h',
  'j',
  'k',
  'kl',
  'l',
  'm',
  'n',
  'p',
];
const ONSETS2 = ['pl', 'qu', 'r', 's', 'sh', 'sk', 'st', 't', 'th', 'tr', 'v', 'w', 'z', 'zh', 'x', 'y'];
const ALL_ONSETS = [...ONSETS, ...ONSETS2];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'io', 'ou', 'y'];
const CODAS = ['', '', '', 'n', 'r', 'l', 's', 'x', 'th', 'm', 'k', 'nd', 'st'];

/** A pronounceable made-up word (never in any pool: pure copy material). */
export function pseudoWord(rng: Rng, syllables = rng.int(2, 3)): string {
  let w = '';
  for (let i = 0; i < syllables; i++)
    w += rng.pick(ALL_ONSETS) + rng.pick(VOWELS) + (i === syllables - 1 ? rng.pick(CODAS) : '');
  return w;
}

export const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

const ALNUM = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const alnum = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.pick(ALNUM.split(''))).join('');
const digits = (rng: Rng, n: number) => Array.from({ length: n }, () => String(rng.int(0, 9))).join('');
const hex = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.int(0, 15).toString(16)).join('');

export type ValueKind =
  'id' | 'name' | 'place' | 'word' | 'int' | 'number' | 'date' | 'email' | 'bool' | 'enum';

/** A random value of a kind; `choices` for enums. */
export function randomValue(
  rng: Rng,
  kind: ValueKind,
  pools: Pools,
  choices: readonly string[] = [],
): string | number | boolean {
  switch (kind) {
    case 'id':
      return rng.weighted<() => string>([
        [3, () => `${alnum(rng, 2)}-${digits(rng, rng.int(3, 6))}`],
        [2, () => hex(rng, rng.int(6, 10))],
        [2, () => `${rng.pick(pools.nouns).slice(0, 3)}_${alnum(rng, 5).toLowerCase()}`],
        [2, () => digits(rng, rng.int(4, 9))],
        [1, () => `${alnum(rng, 3)}${digits(rng, 3)}${alnum(rng, 2)}`],
      ])();
    case 'name':
      return rng.chance(0.5)
        ? capitalize(pseudoWord(rng))
        : `${capitalize(pseudoWord(rng))} ${capitalize(pseudoWord(rng))}`;
    case 'place':
      return (
        capitalize(pseudoWord(rng)) +
        rng.pick(['', '', 'ton', 'ville', 'burg', ' Falls', ' Bay', 'mouth', 'stad'])
      );
    case 'word':
      return rng.chance(0.5) ? rng.pick(pools.nouns) : pseudoWord(rng);
    case 'int':
      return rng.weighted<() => number>([
        [3, () => rng.int(0, 99)],
        [3, () => rng.int(100, 9999)],
        [1, () => rng.int(10000, 9999999)],
      ])();
    case 'number':
      return Math.round(rng.float() * 10 ** rng.int(1, 4) * 100) / 100;
    case 'date':
      return `${rng.int(1990, 2035)}-${String(rng.int(1, 12)).padStart(2, '0')}-${String(rng.int(1, 28)).padStart(2, '0')}`;
    case 'email':
      return `${pseudoWord(rng, 2)}${rng.chance(0.5) ? '.' + pseudoWord(rng, 1) : digits(rng, 2)}@${pseudoWord(rng, 2)}.${rng.pick(['com', 'org', 'net', 'io'])}`;
    case 'bool':
      return rng.chance(0.5);
    case 'enum':
      return rng.pick(choices);
  }
}
