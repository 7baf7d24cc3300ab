/**
 * Repetition penalties exactly as ChatRWKV's generation loop (API_DEMO_CHAT, PIPELINE.generate):
 *
 *   logits[t] -= presence + frequency * count[t]     for every token t seen so far
 *   after each token: count[*] *= decay; count[token] += 1
 *
 * A token that has ever occurred keeps its presence penalty; only the frequency part fades.
 * Counts sit in parallel typed arrays so decaying thousands of entries per token is a tight loop.
 */
import type { SamplingParams } from './sampling-params.js';

export type PenaltyConfig = Pick<SamplingParams, 'presencePenalty' | 'frequencyPenalty' | 'penaltyDecay'>;

/** JSON-safe snapshot: `tokens[i]` has decayed count `counts[i]`, in first-seen order. */
export interface PenaltyTrackerState extends PenaltyConfig {
  readonly tokens: readonly number[];
  readonly counts: readonly number[];
}

export class PenaltyTracker {
  private tokens = new Int32Array(64);
  private counts = new Float64Array(64);
  private size = 0;
  private readonly slotOf = new Map<number, number>();

  constructor(readonly config: PenaltyConfig) {}

  static fromJSON(state: PenaltyTrackerState): PenaltyTracker {
    const { presencePenalty, frequencyPenalty, penaltyDecay } = state;
    const tracker = new PenaltyTracker({ presencePenalty, frequencyPenalty, penaltyDecay });
    if (state.tokens.length !== state.counts.length)
      throw new Error('penalty state: tokens/counts length differ');
    state.tokens.forEach((token, i) => tracker.add(token, state.counts[i]));
    return tracker;
  }

  toJSON(): PenaltyTrackerState {
    return {
      ...this.config,
      tokens: Array.from(this.tokens.subarray(0, this.size)),
      counts: Array.from(this.counts.subarray(0, this.size)),
    };
  }

  /** Decayed occurrence count of a token (0 if never seen). */
  count(token: number): number {
    const slot = this.slotOf.get(token);
    return slot === undefined ? 0 : this.counts[slot];
  }

  /** Subtracts the penalties in place. Tokens beyond the logits length are an error. */
  apply(logits: Float32Array): void {
    const { presencePenalty, frequencyPenalty } = this.config;
    for (let i = 0; i < this.size; i++) {
      const token = this.tokens[i];
      if (token >= logits.length)
        throw new RangeError(`penalized token ${token} ≥ logits length ${logits.length}`);
      logits[token] = logits[token] - (presencePenalty + frequencyPenalty * this.counts[i]);
    }
  }

  /**
   * Records one generated token: decays all counts, then adds `weight`. ChatRWKV uses weight 0 for tokens
   * that decode to a single space, tab or digit (they get the presence penalty but never accumulate).
   */
  record(token: number, weight = 1): void {
    const decay = this.config.penaltyDecay;
    if (decay !== 1) for (let i = 0; i < this.size; i++) this.counts[i] *= decay;
    this.add(token, weight);
  }

  /** Forgets all occurrences (e.g. at the start of a new reply, as API_DEMO_CHAT does). */
  reset(): void {
    this.size = 0;
    this.slotOf.clear();
  }

  private add(token: number, weight: number): void {
    if (!Number.isInteger(token) || token < 0) throw new RangeError(`bad token id ${token}`);
    const slot = this.slotOf.get(token);
    if (slot !== undefined) {
      this.counts[slot] += weight;
      return;
    }
    if (this.size === this.tokens.length) {
      const tokens = new Int32Array(this.size * 2);
      const counts = new Float64Array(this.size * 2);
      tokens.set(this.tokens);
      counts.set(this.counts);
      this.tokens = tokens;
      this.counts = counts;
    }
    this.tokens[this.size] = token;
    this.counts[this.size] = weight;
    this.slotOf.set(token, this.size++);
  }
}
