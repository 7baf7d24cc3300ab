/**
 * Input limits enforced at the API edge. They bound the work one request can cause (prefill length,
 * generation length, stop-string scanning) and the storage one tenant can hold.
 */
export const LIMITS = Object.freeze({
  /**
   * Bytes of task input, counted in UTF-8 (what a byte-level tokenizer feeds: 32,768 `€` are 98,304 bytes,
   * so a limit in UTF-16 units let three times the prompt through).
   */
  inputBytes: 32_768,
  /** Bytes (UTF-8) of an agent's system prompt. */
  systemBytes: 8_192,
  /** @deprecated the same number as `inputBytes`, which is what is enforced (UTF-8 bytes). */
  inputChars: 32_768,
  /** @deprecated the same number as `systemBytes`, which is what is enforced (UTF-8 bytes). */
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

/** Bytes of `text` in UTF-8, without encoding it (a lone surrogate counts 3, as TextEncoder writes U+FFFD). */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}
