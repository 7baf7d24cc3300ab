/**
 * A model can drive its recurrent state to NaN or ±Infinity (the random-weight embedded model does after
 * about a thousand repeated bytes). Such a state poisons every later token of the agent, so it must never be
 * checkpointed: the worker checks states before each commit and logits before each sample.
 */

/** Index of the first NaN or ±Infinity in `values`, or -1 when all are finite. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    // v - v is 0 for every finite number and NaN for NaN and ±Infinity; cheaper than Number.isFinite.
    if (v - v !== 0) return i;
  }
  return -1;
}

/** Thrown when the model produced a non-finite state or logits; the task fails, the agent keeps its last good state. */
export class NonFiniteModelOutputError extends Error {
  constructor(
    readonly what: 'state' | 'logits',
    readonly index: number,
    readonly value: number,
    readonly afterTokens: number,
  ) {
    super(
      `the model's ${what} became non-finite (${what}[${index}] = ${value}) after ${afterTokens} tokens of this task; ` +
        "nothing past the agent's last finite checkpoint was kept",
    );
    this.name = 'NonFiniteModelOutputError';
  }
}

/** A NonFiniteModelOutputError when `values` holds a NaN or ±Infinity, else undefined. */
export function nonFiniteError(
  values: Float32Array,
  what: 'state' | 'logits',
  afterTokens: number,
): NonFiniteModelOutputError | undefined {
  const at = firstNonFinite(values);
  return at < 0 ? undefined : new NonFiniteModelOutputError(what, at, values[at], afterTokens);
}
