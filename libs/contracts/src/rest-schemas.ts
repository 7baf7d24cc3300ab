import { z } from 'zod';
import { LIMITS, SAMPLING_RANGES as R, utf8ByteLength } from './limits.js';

/** The largest RWKV vocabulary (World: 65,536 logits); a served model may have fewer (the worker checks). */
const MAX_VOCABULARY = 65_536;

/**
 * A string of at most `bytes` bytes of UTF-8. The length check in UTF-16 units comes first and is cheap (a
 * string never has more units than UTF-8 bytes), so an oversized string is refused without a byte count.
 */
const utf8Text = (minUnits: number, bytes: number) =>
  z
    .string()
    .min(minUnits)
    .max(bytes, { abort: true })
    .refine((s) => utf8ByteLength(s) <= bytes, { message: `at most ${bytes} bytes of UTF-8` })
    .meta({ description: `at most ${bytes.toLocaleString('en')} bytes of UTF-8` });

const ranged = (name: keyof typeof R) => z.number().min(R[name][0]).max(R[name][1]);

/** Per-agent defaults or per-task overrides of the sampler. Unknown fields are refused. */
export const SamplingSchema = z.strictObject({
  temperature: ranged('temperature').optional(),
  topP: ranged('topP').optional(),
  topK: z.int().min(R.topK[0]).max(R.topK[1]).optional(),
  presencePenalty: ranged('presencePenalty').optional(),
  frequencyPenalty: ranged('frequencyPenalty').optional(),
  penaltyDecay: ranged('penaltyDecay').optional(),
  /** Token id (decimal string) → bias added to its logit. */
  logitBias: z
    .record(
      z
        .string()
        .regex(/^\d{1,5}$/, 'keys are token ids')
        .refine((id) => Number(id) < MAX_VOCABULARY, `token ids are below ${MAX_VOCABULARY}`),
      ranged('logitBias'),
    )
    .refine((o) => Object.keys(o).length <= LIMITS.logitBiasEntries, {
      message: `at most ${LIMITS.logitBiasEntries} entries`,
    })
    .optional(),
  seed: z.int().min(R.seed[0]).max(R.seed[1]).optional(),
});
export type Sampling = z.infer<typeof SamplingSchema>;

export const CreateAgentSchema = z.strictObject({
  model: z.string().min(1).max(LIMITS.modelNameChars).optional(),
  system: utf8Text(0, LIMITS.systemBytes).optional(),
  sampling: SamplingSchema.optional(),
});
export type CreateAgentBody = z.infer<typeof CreateAgentSchema>;

export const CreateTaskSchema = z.strictObject({
  input: utf8Text(1, LIMITS.inputBytes),
  maxTokens: z.int().min(1).max(LIMITS.maxTokens).optional(),
  /** Stop strings; `[]` disables string stops (generation then ends at maxTokens or end-of-text). */
  stop: z.array(z.string().min(1).max(LIMITS.stopStringChars)).max(LIMITS.stopStrings).optional(),
  sampling: SamplingSchema.optional(),
});
export type CreateTaskBody = z.infer<typeof CreateTaskSchema>;

export const ListQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(LIMITS.listPageSize).optional(),
  cursor: z.string().max(64).optional(),
});
export type ListQuery = z.infer<typeof ListQuerySchema>;
