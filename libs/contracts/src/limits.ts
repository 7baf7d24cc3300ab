/**
 * Input limits enforced at the API edge. They bound the work one request can cause (prefill length,
 * generation length, stop-string scanning) and the storage one tenant can hold.
 */
export const LIMITS = Object.freeze({
  /** Characters of task input (prefilled into the agent's state). */
  inputChars: 32_768,
  /** Characters of an agent's system prompt. */
  systemChars: 8_192,
  /** Largest `maxTokens` a task may ask for. */
  maxTokens: 4_096,
  /** `maxTokens` when the request leaves it out. */
  defaultMaxTokens: 256,
  /** Stop strings per task, and characters per stop string. */
  stopStrings: 8,
  stopStringChars: 64,
  /** Model name length. */
  modelNameChars: 128,
  /** Logit-bias entries per sampling block. */
  logitBiasEntries: 64,
  /** Page size of list endpoints. */
  listPageSize: 100,
  /** Largest JSON body the API parses. */
  bodyBytes: 256 * 1024,
});

/** Sampling ranges accepted from clients (wider values are nonsense for RWKV and only invite abuse). */
export const SAMPLING_RANGES = Object.freeze({
  temperature: [0, 5],
  topP: [0, 1],
  topK: [0, 65_536],
  presencePenalty: [-2, 2],
  frequencyPenalty: [-2, 2],
  penaltyDecay: [0, 1],
  logitBias: [-100, 100],
  seed: [0, 2 ** 32 - 1],
} as const);
