/**
 * Generation settings, named as in the ChatRWKV / RWKV pip `PIPELINE_ARGS` and API_DEMO_CHAT.
 * Only bias, penalties, temperature, top-k and top-p shape the distribution; the stop and length fields
 * are for the generation loop.
 */
export interface SamplingParams {
  /** 0 = greedy (first index of the max logit). Applied after top-p/top-k, as ChatRWKV does. */
  readonly temperature: number;
  /** Nucleus mass in [0, 1], measured on the untempered distribution (ChatRWKV order). 1 disables. */
  readonly topP: number;
  /** Keep only the k most likely tokens (ties: lower id first). 0 disables. */
  readonly topK: number;
  /** Subtracted once from every token seen so far. */
  readonly presencePenalty: number;
  /** Subtracted per (decayed) occurrence. */
  readonly frequencyPenalty: number;
  /** Occurrence counts are multiplied by this each generated token (ChatRWKV `alpha_decay`, 0.996). */
  readonly penaltyDecay: number;
  /** Added to logits before penalties; -Infinity bans a token, +Infinity forces it. */
  readonly logitBias: Readonly<Record<number, number>>;
  /** Generation ends when one of these is sampled (the token itself is not part of the output). */
  readonly stopTokens: readonly number[];
  /** Generation ends when the text contains one of these (see StopMatcher). */
  readonly stopStrings: readonly string[];
  readonly maxTokens: number;
  /** Seed for SeededRng; undefined = caller chooses (e.g. from the clock). */
  readonly seed?: number;
}

/** ChatRWKV PIPELINE_ARGS defaults; token 0 (<|endoftext|>) stops. */
export const DEFAULT_SAMPLING_PARAMS: SamplingParams = Object.freeze({
  temperature: 1.0,
  topP: 0.85,
  topK: 0,
  presencePenalty: 0.2,
  frequencyPenalty: 0.2,
  penaltyDecay: 0.996,
  logitBias: Object.freeze({}),
  stopTokens: Object.freeze([0]),
  stopStrings: Object.freeze([]),
  maxTokens: 256,
});

/** Fills in defaults and checks ranges; throws a RangeError naming the bad field. */
export function resolveSamplingParams(partial: Partial<SamplingParams> = {}): SamplingParams {
  const p: SamplingParams = { ...DEFAULT_SAMPLING_PARAMS, ...partial };
  const check = (ok: boolean, field: string, value: unknown, rule: string) => {
    if (!ok) throw new RangeError(`sampling param ${field}=${String(value)}: ${rule}`);
  };
  check(Number.isFinite(p.temperature) && p.temperature >= 0, 'temperature', p.temperature, 'must be ≥ 0');
  check(p.topP >= 0 && p.topP <= 1, 'topP', p.topP, 'must be in [0, 1]');
  check(Number.isInteger(p.topK) && p.topK >= 0, 'topK', p.topK, 'must be an integer ≥ 0');
  check(Number.isFinite(p.presencePenalty), 'presencePenalty', p.presencePenalty, 'must be finite');
  check(Number.isFinite(p.frequencyPenalty), 'frequencyPenalty', p.frequencyPenalty, 'must be finite');
  check(p.penaltyDecay >= 0 && p.penaltyDecay <= 1, 'penaltyDecay', p.penaltyDecay, 'must be in [0, 1]');
  check(
    Number.isInteger(p.maxTokens) && p.maxTokens >= 0,
    'maxTokens',
    p.maxTokens,
    'must be an integer ≥ 0',
  );
  check(p.seed === undefined || Number.isSafeInteger(p.seed), 'seed', p.seed, 'must be a safe integer');
  for (const [id, bias] of Object.entries(p.logitBias)) {
    check(/^\d+$/.test(id), 'logitBias', id, 'keys must be token ids');
    check(!Number.isNaN(bias), `logitBias[${id}]`, bias, 'must be a number');
  }
  for (const t of p.stopTokens) check(Number.isInteger(t) && t >= 0, 'stopTokens', t, 'must be token ids');
  for (const s of p.stopStrings)
    check(typeof s === 'string' && s.length > 0, 'stopStrings', s, 'must be non-empty');
  return p;
}
