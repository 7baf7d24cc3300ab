/**
 * Finds stop strings in streamed text even when they are split across tokens (e.g. "\n\nUser:" arriving
 * as "\n", "\nUs", "er:"). Text that could still turn out to be the start of a stop string is held back,
 * so a caller that prints `emit` never shows part of a stop string.
 */

export interface StopMatch {
  /** Text that is safe to show now. Never contains (any part of) a matched stop string. */
  readonly emit: string;
  /** True once a stop string has been seen; text after it is discarded. */
  readonly stopped: boolean;
  /** The stop string that matched (the earliest in the text; the longest if several start there). */
  readonly stopString?: string;
}

export class StopMatcher {
  private held = '';
  private done = false;
  private readonly stops: readonly string[];

  constructor(stopStrings: readonly string[]) {
    if (stopStrings.some((s) => typeof s !== 'string' || s.length === 0))
      throw new RangeError('stop strings must be non-empty');
    this.stops = [...stopStrings];
  }

  get stopped(): boolean {
    return this.done;
  }

  /** Feeds newly decoded text (e.g. from StreamingTextDecoder). After a stop, returns empty output. */
  push(text: string): StopMatch {
    if (this.done) return { emit: '', stopped: true };
    const buffer = this.held + text;
    let at = -1;
    let match: string | undefined;
    for (const s of this.stops) {
      const i = buffer.indexOf(s);
      if (i >= 0 && (at < 0 || i < at || (i === at && s.length > match!.length))) {
        at = i;
        match = s;
      }
    }
    if (match !== undefined) {
      this.done = true;
      this.held = '';
      return { emit: buffer.slice(0, at), stopped: true, stopString: match };
    }
    const hold = this.partialStopSuffix(buffer);
    this.held = buffer.slice(buffer.length - hold);
    return { emit: buffer.slice(0, buffer.length - hold), stopped: false };
  }

  /** End of generation without a stop: releases the held-back text. */
  flush(): string {
    const rest = this.done ? '' : this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private partialStopSuffix(buffer: string): number {
    let longest = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, buffer.length); k > longest; k--) {
        if (buffer.endsWith(s.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }
}
