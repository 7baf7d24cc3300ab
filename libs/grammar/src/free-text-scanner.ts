/**
 * The free-text part of a turn, before any call: any text, watched byte by byte for `<tool_call>` (which
 * hands over to the grammar, or is forbidden when calls are not allowed) and for `\n\n` (the turn's end).
 *
 * State = (bytes of `<tool_call>` matched so far, newlines just seen): 11 × 2 states. For every state and
 * token the outcome is precomputed once per vocabulary, so the mask of a free-text step is a copy of one
 * precomputed bitmask. A token that runs past `\n\n` is masked (the turn ends on a token boundary); one that
 * runs past `<tool_call>` (World has `>{`) is allowed when its rest fits the grammar (checked per grammar).
 */
import { TOOL_CALL_OPEN, TURN_END } from './constraint-spec.js';

const OPEN = new TextEncoder().encode(TOOL_CALL_OPEN);
const NEWLINE = 0x0a;
const END_LENGTH = TURN_END.length;

export const FREE_STATES = OPEN.length * END_LENGTH;
export const INITIAL_FREE_STATE = 0;
/** Outcome codes beyond the state numbers. */
export const OUTCOME_OPENED = 250;
export const OUTCOME_TURN_END = 251;
export const OUTCOME_END_OF_TEXT = 252;
/** `<tool_call>` ends inside the token; the rest of the token must then fit the grammar. */
export const OUTCOME_OPENED_WITHIN = 253;
export const OUTCOME_INVALID = 255;

// Module-scope alias: the tables below call it millions of times, and under Jest (a vm context) a global
// lookup such as `Math` in a hot loop is about 25x slower.
const floor = Math.floor;

function stepOpen(k: number, byte: number): number {
  if (byte === OPEN[k]) return k + 1;
  return byte === OPEN[0] ? 1 : 0; // `<` never recurs inside `<tool_call>`, so this is the whole KMP table
}

export interface ScannerVocabulary {
  /** Logits per step (the model's vocabulary; may exceed the tokenizer's). */
  readonly logitCount: number;
  readonly endOfTextId: number;
  /** Bytes of a token, or undefined for ids the tokenizer does not define. */
  bytesOf(id: number): Uint8Array | undefined;
}

/** Per vocabulary: `next[state * V + token]` is the next state or an OUTCOME_* code. */
export class FreeTextTable {
  private readonly next: Uint8Array;
  /** Per mode (calls allowed or not) and state: the bitmask of allowed tokens. */
  private readonly masks: Uint32Array[][];
  readonly words: number;
  /** Per state: the tokens whose bytes finish `<tool_call>` and go on (e.g. `>{"`). */
  readonly openedWithin: number[][];

  constructor(readonly vocab: ScannerVocabulary) {
    const V = vocab.logitCount;
    this.words = Math.ceil(V / 32);
    this.next = new Uint8Array(FREE_STATES * V);
    for (let id = 0; id < V; id++) {
      const bytes = vocab.bytesOf(id);
      for (let s = 0; s < FREE_STATES; s++) this.next[s * V + id] = outcome(s, id, bytes, vocab.endOfTextId);
    }
    this.openedWithin = Array.from({ length: FREE_STATES }, (_, s) => {
      const ids: number[] = [];
      for (let id = 0; id < V; id++) if (this.next[s * V + id] === OUTCOME_OPENED_WITHIN) ids.push(id);
      return ids;
    });
    this.masks = [true, false].map((callsAllowed) =>
      Array.from({ length: FREE_STATES }, (_, s) => {
        const mask = new Uint32Array(this.words);
        for (let id = 0; id < V; id++) {
          const o = this.next[s * V + id];
          const ok =
            o < FREE_STATES ||
            o === OUTCOME_TURN_END ||
            o === OUTCOME_END_OF_TEXT ||
            (callsAllowed && o === OUTCOME_OPENED);
          if (ok) mask[id >>> 5] |= 1 << (id & 31);
        }
        return mask;
      }),
    );
  }

  step(state: number, token: number): number {
    if (!Number.isInteger(token) || token < 0 || token >= this.vocab.logitCount) return OUTCOME_INVALID;
    return this.next[state * this.vocab.logitCount + token];
  }

  mask(state: number, callsAllowed: boolean): Uint32Array {
    return this.masks[callsAllowed ? 0 : 1][state];
  }
}

/** The bytes of `token` after the point where `<tool_call>` completes, scanning from `state`. */
export function bytesAfterOpen(state: number, bytes: Uint8Array): Uint8Array {
  let open = floor(state / END_LENGTH);
  for (let i = 0; i < bytes.length; i++) {
    open = stepOpen(open, bytes[i]);
    if (open === OPEN.length) return bytes.subarray(i + 1);
  }
  return new Uint8Array(0);
}

function outcome(state: number, id: number, bytes: Uint8Array | undefined, endOfTextId: number): number {
  if (id === endOfTextId) return OUTCOME_END_OF_TEXT;
  if (bytes === undefined || bytes.length === 0) return OUTCOME_INVALID;
  let open = floor(state / END_LENGTH);
  let newlines = state % END_LENGTH;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    open = stepOpen(open, b);
    newlines = b === NEWLINE ? newlines + 1 : 0;
    const last = i === bytes.length - 1;
    if (open === OPEN.length) return last ? OUTCOME_OPENED : OUTCOME_OPENED_WITHIN;
    if (newlines === END_LENGTH) return last ? OUTCOME_TURN_END : OUTCOME_INVALID;
  }
  return open * END_LENGTH + newlines;
}
