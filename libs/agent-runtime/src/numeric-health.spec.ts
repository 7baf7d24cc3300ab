import { firstNonFinite, nonFiniteError, NonFiniteModelOutputError } from './numeric-health.js';

describe('numeric health of model outputs', () => {
  it('finds the first NaN or infinity, and nothing in a finite array', () => {
    expect(firstNonFinite(new Float32Array([0, -1.5, 3e38, -3e38]))).toBe(-1);
    expect(firstNonFinite(new Float32Array([0, 1, NaN, Infinity]))).toBe(2);
    expect(firstNonFinite(new Float32Array([0, -Infinity]))).toBe(1);
    expect(firstNonFinite(new Float32Array([]))).toBe(-1);
  });

  it('names what went non-finite, where, and after how many tokens', () => {
    expect(nonFiniteError(new Float32Array([1, 2]), 'state', 5)).toBeUndefined();
    const caught = nonFiniteError(new Float32Array([1, NaN]), 'logits', 1024);
    expect(caught).toBeInstanceOf(NonFiniteModelOutputError);
    expect((caught as Error).message).toBe(
      "the model's logits became non-finite (logits[1] = NaN) after 1024 tokens of this task; " +
        "nothing past the agent's last finite checkpoint was kept",
    );
  });
});
