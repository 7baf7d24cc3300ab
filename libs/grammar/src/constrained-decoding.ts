/**
 * The API the batched decoder uses: one `GrammarEngine` per model vocabulary, one `TokenMatcher` per
 * constrained turn. Per step: `fillMask(bitmask)`, apply it to the logits row (`applyTokenBitmask`), sample,
 * `accept(token)`. A matcher is a pure function of (spec, accepted tokens): a resumed task rebuilds it with
 * `createMatcher(spec, durableTokens)`.
 */
import { resolveSpec, type ConstraintSpec } from './constraint-spec.js';
import {
  FREE_STATES,
  FreeTextTable,
  INITIAL_FREE_STATE,
  OUTCOME_END_OF_TEXT,
  OUTCOME_OPENED,
  OUTCOME_OPENED_WITHIN,
  bytesAfterOpen,
  OUTCOME_TURN_END,
  type ScannerVocabulary,
} from './free-text-scanner.js';
import { buildTurnGrammar, type TurnGrammar } from './grammar-text.js';
import {
  loadXGrammar,
  type XGrammar,
  type XgCompiler,
  type XgHandle,
  type XgMatcher,
} from './xgrammar-adapter.js';

/** What the engine needs from a tokenizer (agent-runtime's TextTokenizer satisfies it). */
export interface TokenVocabulary {
  /** Ids `0 .. vocabSize-1` have bytes (end-of-text has none). */
  readonly vocabSize: number;
  readonly endOfTextId: number;
  tokenBytes(id: number): Uint8Array;
}

export interface GrammarEngineOptions {
  readonly tokenizer: TokenVocabulary;
  /** Logits per step (the model's vocabulary size, e.g. 65,536 for a World model); default vocabSize. */
  readonly logitCount?: number;
  /** Compiled grammars kept for reuse (least recently used go first). Default 64. */
  readonly cacheSize?: number;
}

/** Uint32 words of a bitmask over `logitCount` tokens. */
export function bitmaskWords(logitCount: number): number {
  return Math.ceil(logitCount / 32);
}

// Under Jest (a vm context) a global lookup in a hot loop is much slower: alias it at module scope.
const min = Math.min;

/** Sets logits of masked-out tokens (bit 0) to -Infinity. `logits` is one row of `bitmask`'s vocabulary. */
export function applyTokenBitmask(logits: Float32Array, bitmask: Uint32Array): void {
  const n = logits.length;
  for (let w = 0; w < bitmask.length; w++) {
    const bits = bitmask[w];
    if (bits === 0xffffffff) continue;
    const base = w << 5;
    const top = min(32, n - base);
    for (let b = 0; b < top; b++) if (((bits >>> b) & 1) === 0) logits[base + b] = -Infinity;
  }
}

/** Whether `token` is allowed by `bitmask`. */
export function isTokenAllowed(bitmask: Uint32Array, token: number): boolean {
  return ((bitmask[token >>> 5] >>> (token & 31)) & 1) === 1;
}

export interface TokenMatcher {
  /** Writes the allowed tokens of the next step into `bitmask` (bitmaskWords(logitCount) words). */
  fillMask(bitmask: Uint32Array): void;
  /** Advances by one sampled token; false (and no change) if the token was not allowed. */
  accept(token: number): boolean;
  /** The turn is complete (`\n\n` written, or end-of-text in free text): stop decoding this turn. */
  isTerminated(): boolean;
  /** True once the turn is inside a tool call or a constrained message (free text is over). */
  isConstrained(): boolean;
  /** Undoes the last `count` accepted tokens (by replaying the rest). */
  rollback(count: number): void;
  /** Tokens accepted so far. */
  readonly tokens: readonly number[];
  /** Frees the engine's memory for this matcher (also done by the garbage collector, later). */
  dispose(): void;
}

interface CompiledTurn {
  readonly turn: TurnGrammar;
  readonly compiled?: XgHandle;
  /** Per free-text state, the free-text mask plus the tokens that open a call and go on validly. */
  readonly openMasks: Map<number, Uint32Array>;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The rest of a token after `<tool_call>`, as text, or undefined if it is not whole UTF-8. */
function textAfterOpen(state: number, bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytesAfterOpen(state, bytes));
  } catch {
    return undefined;
  }
}

const releaseMatcher = new FinalizationRegistry<XgHandle>((h) => h.delete());

export class GrammarEngine {
  readonly logitCount: number;
  readonly words: number;
  private readonly compiler: XgCompiler;
  private readonly cache = new Map<string, Promise<CompiledTurn>>();
  private readonly cacheSize: number;
  /** Ids with bytes (not end-of-text, not beyond the tokenizer): the grammar may allow only these. */
  private readonly textTokens: Uint32Array;

  private constructor(
    private readonly xg: XGrammar,
    readonly freeText: FreeTextTable,
    options: GrammarEngineOptions,
    tokenizerInfo: XgHandle,
  ) {
    this.logitCount = freeText.vocab.logitCount;
    this.words = bitmaskWords(this.logitCount);
    this.cacheSize = options.cacheSize ?? 64;
    this.compiler = new xg.binding.GrammarCompiler(tokenizerInfo, 1, true);
    this.textTokens = new Uint32Array(this.words);
    for (let id = 0; id < this.logitCount; id++)
      if (freeText.vocab.bytesOf(id)?.length) this.textTokens[id >>> 5] |= 1 << (id & 31);
  }

  static async create(options: GrammarEngineOptions): Promise<GrammarEngine> {
    const xg = await loadXGrammar();
    const tok = options.tokenizer;
    const logitCount = options.logitCount ?? tok.vocabSize;
    if (logitCount < tok.vocabSize)
      throw new RangeError(`logitCount ${logitCount} < tokenizer vocabSize ${tok.vocabSize}`);
    const bytes: (Uint8Array | undefined)[] = [];
    for (let id = 0; id < logitCount; id++)
      bytes.push(id < tok.vocabSize && id !== tok.endOfTextId ? tok.tokenBytes(id) : undefined);
    const vocab: ScannerVocabulary = { logitCount, endOfTextId: tok.endOfTextId, bytesOf: (id) => bytes[id] };
    // The engine takes token text; "byte_level" (GPT-2's byte-to-character map) carries any byte string,
    // including World tokens that hold part of a UTF-8 character. Empty = special (never allowed as text).
    const map = byteLevelAlphabet();
    const encoded = bytes.map((b) => (b ? Array.from(b, (x) => map[x]).join('') : ''));
    const info = new xg.binding.TokenizerInfo(
      xg.binding.vecStringFromJSArray(encoded),
      'BYTE_LEVEL',
      logitCount,
      xg.binding.vecIntFromJSArray([]),
      false,
    );
    return new GrammarEngine(xg, new FreeTextTable(vocab), options, info);
  }

  /**
   * A matcher for one turn, advanced through `replay` (the tokens already generated, e.g. after a crash).
   * Throws ConstraintSpecError for a spec that cannot be enforced, and Error if a replayed token was not
   * allowed (the tokens were not generated under this spec).
   */
  async createMatcher(spec: ConstraintSpec, replay: readonly number[] = []): Promise<TokenMatcher> {
    const compiled = await this.compile(spec);
    const matcher = new TurnMatcher(this, compiled);
    for (const [i, t] of replay.entries())
      if (!matcher.accept(t)) {
        matcher.dispose();
        throw new Error(`replayed token ${t} at position ${i} is not allowed by this constraint`);
      }
    return matcher;
  }

  /** Checks and compiles a spec without making a matcher (e.g. to reject a tool list early). */
  async compile(spec: ConstraintSpec): Promise<CompiledTurn> {
    const resolved = resolveSpec(spec);
    const key = JSON.stringify(resolved);
    let hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    hit = this.compileResolved(resolved);
    this.cache.set(key, hit);
    hit.catch(() => this.cache.delete(key));
    while (this.cache.size > this.cacheSize) {
      const [oldest, entry] = this.cache.entries().next().value!;
      this.cache.delete(oldest);
      // Matchers made from it keep the engine's compiled grammar alive (it is reference counted inside).
      void entry.then(
        (c) => c.compiled?.delete(),
        () => undefined,
      );
    }
    return hit;
  }

  private async compileResolved(resolved: ReturnType<typeof resolveSpec>): Promise<CompiledTurn> {
    const turn = await buildTurnGrammar(resolved, (s) => this.xg.schemaToEbnf(s));
    if (!turn.grammar) return { turn, openMasks: new Map() };
    const grammar = await this.xg.parseEbnf(turn.grammar);
    try {
      return { turn, compiled: this.compiler.CompileGrammar(grammar), openMasks: new Map() };
    } finally {
      grammar.delete();
    }
  }

  /** @internal */
  newXgMatcher(compiled: XgHandle): XgMatcher {
    const m = new this.xg.binding.GrammarMatcher(compiled, undefined, true, -1);
    return m;
  }

  /** @internal The free-text mask of `state` for a turn that may open calls (computed once per grammar). */
  freeMaskWithCalls(turn: CompiledTurn, state: number): Uint32Array {
    let mask = turn.openMasks.get(state);
    if (mask) return mask;
    mask = this.freeText.mask(state, true).slice();
    for (const id of this.freeText.openedWithin[state]) {
      const rest = textAfterOpen(state, this.freeText.vocab.bytesOf(id)!);
      if (rest === undefined) continue;
      const m = this.newXgMatcher(turn.compiled!);
      try {
        if (m.AcceptString(rest, false) && !m.IsTerminated()) mask[id >>> 5] |= 1 << (id & 31);
      } finally {
        m.delete();
      }
    }
    turn.openMasks.set(state, mask);
    return mask;
  }

  /** @internal Copies the engine's mask for `m` into `bitmask`, keeping only text tokens. */
  fillFromXg(m: XgMatcher, bitmask: Uint32Array): void {
    const vector = m.GetNextTokenBitmask(this.logitCount);
    try {
      const view = this.xg.binding.vecIntToView(vector);
      const text = this.textTokens;
      for (let w = 0; w < bitmask.length; w++) bitmask[w] = view[w] & text[w];
    } finally {
      vector.delete();
    }
  }
}

type Phase = 'free' | 'grammar' | 'done';

class TurnMatcher implements TokenMatcher {
  private phase: Phase;
  private freeState = INITIAL_FREE_STATE;
  private xgm?: XgMatcher;
  private readonly accepted: number[] = [];

  constructor(
    private readonly engine: GrammarEngine,
    private readonly compiled: CompiledTurn,
  ) {
    this.phase = compiled.turn.freeText === 'none' ? 'grammar' : 'free';
  }

  get tokens(): readonly number[] {
    return this.accepted;
  }

  isTerminated(): boolean {
    return this.phase === 'done';
  }

  isConstrained(): boolean {
    return this.phase === 'grammar';
  }

  fillMask(bitmask: Uint32Array): void {
    if (bitmask.length !== this.engine.words)
      throw new RangeError(`bitmask has ${bitmask.length} words; this vocabulary needs ${this.engine.words}`);
    if (this.phase === 'free') {
      const calls = this.compiled.turn.freeText === 'calls';
      bitmask.set(
        calls
          ? this.engine.freeMaskWithCalls(this.compiled, this.freeState)
          : this.engine.freeText.mask(this.freeState, false),
      );
    } else if (this.phase === 'grammar') {
      this.engine.fillFromXg(this.grammarMatcher(), bitmask);
    } else {
      // The turn is over; only end-of-text remains (the decoder should have stopped).
      bitmask.fill(0);
      const eot = this.engine.freeText.vocab.endOfTextId;
      bitmask[eot >>> 5] |= 1 << (eot & 31);
    }
  }

  accept(token: number): boolean {
    if (this.phase === 'free') {
      const o = this.engine.freeText.step(this.freeState, token);
      if (o < FREE_STATES) this.freeState = o;
      else if (o === OUTCOME_TURN_END || o === OUTCOME_END_OF_TEXT) this.phase = 'done';
      else if (o === OUTCOME_OPENED && this.compiled.turn.freeText === 'calls') this.phase = 'grammar';
      else if (o === OUTCOME_OPENED_WITHIN && this.compiled.turn.freeText === 'calls') {
        const mask = this.engine.freeMaskWithCalls(this.compiled, this.freeState);
        if (!isTokenAllowed(mask, token)) return false;
        const rest = textAfterOpen(this.freeState, this.engine.freeText.vocab.bytesOf(token)!)!;
        if (!this.grammarMatcher().AcceptString(rest, false))
          throw new Error('grammar refused a checked token');
        this.phase = 'grammar';
      } else return false;
    } else if (this.phase === 'grammar') {
      if (!isTextToken(this.engine, token)) return false;
      const m = this.grammarMatcher();
      if (!m.AcceptToken(token, false)) return false;
      if (m.IsTerminated()) this.phase = 'done';
    } else {
      return false;
    }
    this.accepted.push(token);
    return true;
  }

  rollback(count: number): void {
    if (!Number.isInteger(count) || count < 0 || count > this.accepted.length)
      throw new RangeError(`cannot roll back ${count} of ${this.accepted.length} tokens`);
    const keep = this.accepted.slice(0, this.accepted.length - count);
    this.accepted.length = 0;
    this.phase = this.compiled.turn.freeText === 'none' ? 'grammar' : 'free';
    this.freeState = INITIAL_FREE_STATE;
    this.xgm?.Reset();
    for (const t of keep) if (!this.accept(t)) throw new Error(`rollback replay refused token ${t}`);
  }

  dispose(): void {
    if (this.xgm) {
      releaseMatcher.unregister(this);
      this.xgm.delete();
      this.xgm = undefined;
    }
  }

  private grammarMatcher(): XgMatcher {
    if (!this.xgm) {
      this.xgm = this.engine.newXgMatcher(this.compiled.compiled!);
      releaseMatcher.register(this, this.xgm, this);
    }
    return this.xgm;
  }
}

function isTextToken(engine: GrammarEngine, token: number): boolean {
  return (
    Number.isInteger(token) &&
    token >= 0 &&
    token < engine.logitCount &&
    (engine.freeText.vocab.bytesOf(token)?.length ?? 0) > 0
  );
}

/** GPT-2's reversible byte → printable character map (what the engine's "byte_level" vocabularies use). */
function byteLevelAlphabet(): string[] {
  const printable: number[] = [];
  for (let b = 33; b <= 126; b++) printable.push(b);
  for (let b = 161; b <= 172; b++) printable.push(b);
  for (let b = 174; b <= 255; b++) printable.push(b);
  const map = new Array<string>(256);
  for (const b of printable) map[b] = String.fromCharCode(b);
  let extra = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + extra++);
  return map;
}
