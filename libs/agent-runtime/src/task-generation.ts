/**
 * One task's generation, token by token, around the batched decoder: sampling, streaming UTF-8 decode,
 * stop strings, the turn boundary the agent's state must end on, and exact resumption after a crash.
 *
 * The agent's recurrent state has consumed everything except a short list of "pending" token ids that the
 * next engine call feeds first. While decoding, pending = [last sampled token]; after a finish,
 * `closingTokens()` says what to carry into the next task so the state ends exactly on a turn boundary.
 */
import type { FinishReason } from '@gooseherd/contracts';
import {
  resolveSamplingParams,
  SamplerContext,
  sampleToken,
  SeededRng,
  StopMatcher,
  StreamingTextDecoder,
  type SamplerContextState,
  type SamplingParams,
} from '@gooseherd/engine';
import { DEFAULT_STOP, TURN_SEPARATOR } from './chat-format.js';
import type { TextTokenizer } from './text-tokenizer.js';

/** How generation itself can end. */
export type GenerationFinish = Extract<FinishReason, 'stop' | 'length' | 'end_of_text'>;
/** How a task's turn can be closed: a generation finish, or cancellation between tokens. */
export type ClosingReason = GenerationFinish | Extract<FinishReason, 'cancelled'>;

export interface TaskGeneratorOptions {
  readonly tokenizer: TextTokenizer;
  /** Agent defaults merged with task overrides; stop/length fields are taken from the options below. */
  readonly sampling?: Partial<SamplingParams>;
  readonly maxTokens: number;
  /** Stop strings: undefined = DEFAULT_STOP (the turn separator), [] = none. */
  readonly stop?: readonly string[];
  /** Ids the model has logits for but the tokenizer cannot decode (LoadedModel.bannedTokens). */
  readonly bannedTokens?: readonly number[];
  readonly seed: number;
}

export interface AcceptResult {
  readonly token: number;
  /** Text to publish now (may be ''). All deltas of a task concatenated equal `output`. */
  readonly text: string;
  readonly finish?: GenerationFinish;
}

export interface ReplayResult {
  /** The delta accept() produced for each replayed token. */
  readonly deltas: string[];
  readonly text: string;
  readonly finish?: GenerationFinish;
}

/** Plain JSON, stored with the agent's state checkpoint. */
export interface GeneratorSnapshot {
  readonly v: 1;
  readonly seed: number;
  /** Every token sampled so far (its length is tokensOut). */
  readonly outputTokens: number[];
  /** Text published so far. */
  readonly output: string;
  /** Decoded text held back because it may be the start of a stop string. */
  readonly stopHeld: string;
  readonly leadingSpacePending: boolean;
  readonly sampler: SamplerContextState;
  readonly finish?: GenerationFinish;
  /** Bytes of generated text the turn keeps (up to the end of the matched stop string). */
  readonly keptBytes?: number;
}

const SEPARATOR_BYTES = new TextEncoder().encode(TURN_SEPARATOR);
const utf8 = new TextEncoder();
const lossy = new TextDecoder('utf-8', { ignoreBOM: true });
/** ChatRWKV: tokens that are only a space, tab or digits get the presence penalty but never accumulate. */
const UNCOUNTED_TEXT = ' \t0123456789';

export class TaskGenerator {
  private readonly params: SamplingParams;
  private readonly tokenizer: TextTokenizer;
  private readonly decoder: StreamingTextDecoder;
  private readonly stops: StopMatcher;
  private readonly rngBase: number;
  private readonly tokens: number[] = [];
  /** Bytes of the text tokens sampled so far (everything but a final end-of-text / stop token). */
  private rawBytes = 0;
  private stopHeld = '';
  private leadingSpacePending = true;
  private published = '';
  private finishReason: GenerationFinish | undefined;
  private keptBytes: number | undefined;
  private cancelled = false;

  constructor(
    private readonly options: TaskGeneratorOptions,
    private readonly sampler: SamplerContext = SamplerContext.create(resolveSamplingParams(options.sampling)),
  ) {
    const { maxTokens, seed, tokenizer } = options;
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new RangeError(`maxTokens must be an integer ≥ 1, got ${maxTokens}`);
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const logitBias: Record<number, number> = { ...options.sampling?.logitBias };
    for (const id of options.bannedTokens ?? []) logitBias[id] = -Infinity;
    this.params = resolveSamplingParams({
      ...options.sampling,
      logitBias,
      stopStrings: options.stop ?? DEFAULT_STOP,
      maxTokens,
      seed,
    });
    this.tokenizer = tokenizer;
    this.decoder = new StreamingTextDecoder(tokenizer);
    this.stops = new StopMatcher(this.params.stopStrings);
    this.rngBase = SeededRng.fromSeed(seed).nextUint32();
  }

  /** Resumes a task from a snapshot; `options` are the task's (the seed comes from the snapshot). */
  static restore(snapshot: GeneratorSnapshot, options: Omit<TaskGeneratorOptions, 'seed'>): TaskGenerator {
    if (snapshot.v !== 1) throw new Error(`unsupported generator snapshot version ${String(snapshot.v)}`);
    const g = new TaskGenerator(
      { ...options, seed: snapshot.seed },
      SamplerContext.fromJSON(snapshot.sampler),
    );
    g.tokens.push(...snapshot.outputTokens);
    for (const t of g.tokens) if (g.isTextToken(t)) g.rawBytes += g.tokenizer.tokenBytes(t).length;
    // The decoder only holds an unfinished character (≤ 3 bytes): re-feeding the last few tokens restores it.
    if (snapshot.finish === undefined) g.decoder.pushAll(g.tokens.slice(-4).filter((t) => g.isTextToken(t)));
    const held = g.stops.push(snapshot.stopHeld);
    if (held.emit !== '' || held.stopped)
      throw new Error('generator snapshot: stopHeld is not a stop prefix');
    g.stopHeld = snapshot.stopHeld;
    g.leadingSpacePending = snapshot.leadingSpacePending;
    g.published = snapshot.output;
    g.finishReason = snapshot.finish;
    g.keptBytes = snapshot.keptBytes;
    return g;
  }

  snapshot(): GeneratorSnapshot {
    return {
      v: 1,
      seed: this.options.seed,
      outputTokens: [...this.tokens],
      output: this.published,
      stopHeld: this.stopHeld,
      leadingSpacePending: this.leadingSpacePending,
      sampler: this.sampler.toJSON(),
      ...(this.finishReason && { finish: this.finishReason }),
      ...(this.keptBytes !== undefined && { keptBytes: this.keptBytes }),
    };
  }

  /** Text published so far. */
  get output(): string {
    return this.published;
  }

  /** Every token sampled, in order (including a final end-of-text token). */
  get outputTokens(): readonly number[] {
    return this.tokens;
  }

  get tokensOut(): number {
    return this.tokens.length;
  }

  get finish(): GenerationFinish | undefined {
    return this.finishReason;
  }

  get done(): boolean {
    return this.finishReason !== undefined || this.cancelled;
  }

  /** Samples the next token from the logits the engine returned for the pending token. */
  accept(logits: Float32Array): AcceptResult {
    this.assertOpen();
    const token = sampleToken(logits, this.params, this.sampler, this.rngFor(this.tokens.length));
    return { token, ...this.consume(token) };
  }

  /**
   * Re-applies tokens that were sampled (and published) before a crash, exactly as accept() did, without
   * drawing random numbers. The caller compares `deltas` with what it had made durable.
   */
  replay(tokenIds: readonly number[]): ReplayResult {
    const deltas: string[] = [];
    let finish: GenerationFinish | undefined;
    for (const token of tokenIds) {
      this.assertOpen();
      const r = this.consume(token);
      deltas.push(r.text);
      finish = r.finish;
    }
    return { deltas, text: deltas.join(''), finish };
  }

  /** Ends the task between tokens; returns the held-back text, the last delta to publish. */
  cancel(): string {
    if (this.done) return '';
    this.cancelled = true;
    return this.publish(this.releaseHeld());
  }

  /**
   * The ids to feed before the next task, replacing the pending [last sampled token]: afterwards the state
   * has consumed the generated text up to and including the stop string (or all of it), then the turn
   * separator, never twice. An end-of-text or stop token is not fed.
   */
  closingTokens(reason: ClosingReason = this.finishReason ?? 'cancelled'): number[] {
    if (this.finishReason !== undefined ? reason !== this.finishReason : reason !== 'cancelled')
      throw new RangeError(
        `closingTokens(${reason}) but generation ${this.finishReason ?? 'has not finished'}`,
      );
    const raw = this.rawOutputBytes();
    const kept = this.keptBytes ?? raw.length;
    const last = this.tokens.at(-1);
    const lastIsText = last !== undefined && this.isTextToken(last);
    const fed = raw.length - (lastIsText ? this.tokenizer.tokenBytes(last).length : 0);
    const suffix = separatorSuffix(raw.subarray(0, kept));
    if (lastIsText && kept === raw.length) return [last, ...this.tokenizer.encodeBytes(suffix)];
    // The stop ended inside the last token: feed only its bytes up to the end of the stop string.
    const rest = kept >= fed ? raw.subarray(fed, kept) : new Uint8Array(0);
    return this.tokenizer.encodeBytes(concat(rest, suffix));
  }

  private consume(token: number): { text: string; finish?: GenerationFinish } {
    this.tokens.push(token);
    if (!this.isTextToken(token)) {
      // ChatRWKV stops before recording the token; its text (none) is not part of the output.
      this.finishReason = token === this.tokenizer.endOfTextId ? 'end_of_text' : 'stop';
      this.keptBytes = this.rawBytes;
      return { text: this.publish(this.releaseHeld()), finish: this.finishReason };
    }
    const bytes = this.tokenizer.tokenBytes(token);
    this.rawBytes += bytes.length;
    this.sampler.penalties.record(token, UNCOUNTED_TEXT.includes(lossy.decode(bytes)) ? 0 : 1);
    const decoded = this.decoder.push(token);
    const buffer = this.stopHeld + decoded;
    const m = this.stops.push(decoded);
    let text = this.publish(m.emit);
    if (m.stopped) {
      this.finishReason = 'stop';
      this.stopHeld = '';
      // Bytes after the end of the stop string: decoded text past it, plus an unfinished character.
      const after = buffer.slice(m.emit.length + m.stopString!.length);
      const beyond = utf8.encode(after).length + unfinishedUtf8Tail(this.rawOutputTail(3));
      this.keptBytes = Math.max(0, this.rawBytes - beyond);
    } else {
      this.stopHeld = buffer.slice(m.emit.length);
      if (this.tokens.length >= this.params.maxTokens) {
        this.finishReason = 'length';
        this.keptBytes = this.rawBytes;
        text += this.publish(this.releaseHeld());
      }
    }
    return { text, finish: this.finishReason };
  }

  /** Generation ended without a stop string: what the stop matcher and the UTF-8 decoder still hold. */
  private releaseHeld(): string {
    this.stopHeld = '';
    return this.stops.flush() + this.decoder.flush();
  }

  /** The model writes `Assistant: Hello`; the output starts at `Hello`. */
  private publish(text: string): string {
    if (this.leadingSpacePending && text.length > 0) {
      this.leadingSpacePending = false;
      if (text.startsWith(' ')) text = text.slice(1);
    }
    this.published += text;
    return text;
  }

  private isTextToken(token: number): boolean {
    return token !== this.tokenizer.endOfTextId && !this.params.stopTokens.includes(token);
  }

  /**
   * One random stream per output position, derived from the seed: a task resumed after a crash draws the
   * same numbers as an uninterrupted run, even though replay() draws none.
   */
  private rngFor(index: number): SeededRng {
    return SeededRng.fromSeed(index * 0x100000000 + this.rngBase);
  }

  private assertOpen(): void {
    if (this.finishReason) throw new Error(`generation already finished (${this.finishReason})`);
    if (this.cancelled) throw new Error('generation was cancelled');
  }

  private rawOutputBytes(): Uint8Array {
    const parts = this.tokens.filter((t) => this.isTextToken(t)).map((t) => this.tokenizer.tokenBytes(t));
    return concat(...parts);
  }

  /** The last `n` bytes of the generated text (fewer if there are fewer). */
  private rawOutputTail(n: number): Uint8Array {
    const parts: Uint8Array[] = [];
    let have = 0;
    for (let i = this.tokens.length - 1; i >= 0 && have < n; i--) {
      if (!this.isTextToken(this.tokens[i])) continue;
      const b = this.tokenizer.tokenBytes(this.tokens[i]);
      parts.unshift(b);
      have += b.length;
    }
    const all = concat(...parts);
    return all.subarray(Math.max(0, all.length - n));
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What to append to `text` so it ends with the turn separator, reusing any part it already ends with. */
function separatorSuffix(text: Uint8Array): Uint8Array {
  const S = SEPARATOR_BYTES;
  for (let k = Math.min(S.length, text.length); k > 0; k--) {
    let match = true;
    for (let i = 0; i < k && match; i++) match = text[text.length - k + i] === S[i];
    if (match) return S.subarray(k);
  }
  return S;
}

/**
 * How many trailing bytes a streaming UTF-8 decoder is still holding: a lead byte followed by fewer
 * continuation bytes than it announces, all valid so far (WHATWG decoder rules).
 */
export function unfinishedUtf8Tail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const lead = bytes[bytes.length - back];
    if ((lead & 0xc0) === 0x80) continue;
    const need =
      lead >= 0xc2 && lead <= 0xdf
        ? 2
        : lead >= 0xe0 && lead <= 0xef
          ? 3
          : lead >= 0xf0 && lead <= 0xf4
            ? 4
            : 1;
    if (need <= back) return 0;
    if (back >= 2) {
      const second = bytes[bytes.length - back + 1];
      const lo = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
      const hi = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
      if (second < lo || second > hi) return 0;
    }
    return back;
  }
  return 0;
}
