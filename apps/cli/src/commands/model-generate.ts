import { Command, InvalidArgumentError } from 'commander';
import {
  SamplerContext,
  SeededRng,
  StopMatcher,
  StreamingTextDecoder,
  WeightDType,
  WorldTokenizer,
  isStopToken,
  resolveSamplingParams,
  sampleToken,
} from '@gooseherd/engine';
import { action } from '../cli-error.js';
import { collect, parseDType, parseFloatArg, parseIntArg, readUserFile } from '../options.js';
import { openModel } from './open-model.js';

interface GenerateOptions {
  model: string;
  vocab: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  presencePenalty: number;
  frequencyPenalty: number;
  penaltyDecay: number;
  seed?: number;
  stop: string[];
  stopToken: string[];
  logitBias: string[];
  dtype: WeightDType;
  threads?: number;
}

export function generateCommand(): Command {
  return new Command('generate')
    .description('stream a continuation of a prompt to stdout')
    .requiredOption('--model <file>', 'checkpoint (.pth or .safetensors)')
    .requiredOption('--vocab <file>', 'vocabulary file (rwkv_vocab_v20230424.txt)')
    .requiredOption('--prompt <text>', 'the prompt')
    .option('--max-tokens <n>', 'tokens to generate at most', parseIntArg(0, 1_000_000), 200)
    .option('--temperature <t>', '0 = greedy', parseFloatArg(0), 1.0)
    .option('--top-p <p>', 'nucleus mass, 1 disables', parseFloatArg(0, 1), 0.85)
    .option('--top-k <k>', '0 disables', parseIntArg(0), 0)
    .option(
      '--presence-penalty <x>',
      'subtracted once from every token already generated',
      parseFloatArg(),
      0.2,
    )
    .option('--frequency-penalty <x>', 'subtracted per (decayed) occurrence', parseFloatArg(), 0.2)
    .option('--penalty-decay <x>', 'occurrence counts decay by this each token', parseFloatArg(0, 1), 0.996)
    .option('--seed <n>', 'random seed (same seed, same text)', parseIntArg(0))
    .option('--stop <string>', 'stop when this text appears (repeatable)', collect, [])
    .option('--stop-token <id>', 'stop at this token id (repeatable; default 0)', collect, [])
    .option('--logit-bias <id:bias>', 'add bias to a token logit, e.g. 11:-5 (repeatable)', collect, [])
    .option('--dtype <dtype>', 'weight storage: fp32|fp16|int8|int4', parseDType, 'fp32')
    .option('--threads <n>', 'onnxruntime threads', parseIntArg(1, 256))
    .action(action(generate));
}

async function generate(opts: GenerateOptions): Promise<void> {
  readUserFile('--vocab', opts.vocab);
  const tokenizer = WorldTokenizer.fromFile(opts.vocab);
  const seed = opts.seed ?? Date.now() % 2 ** 31;
  const params = resolveSamplingParams({
    temperature: opts.temperature,
    topP: opts.topP,
    topK: opts.topK,
    presencePenalty: opts.presencePenalty,
    frequencyPenalty: opts.frequencyPenalty,
    penaltyDecay: opts.penaltyDecay,
    maxTokens: opts.maxTokens,
    seed,
    stopStrings: opts.stop,
    stopTokens: opts.stopToken.length ? opts.stopToken.map(parseIntArg(0)) : [0],
    logitBias: parseLogitBias(opts.logitBias),
  });
  const promptIds = tokenizer.encode(opts.prompt);
  if (promptIds.length === 0) throw new Error('--prompt: must not be empty');

  const engine = await openModel(opts.model, opts.dtype, opts.threads);
  try {
    // the model's head has rows past the vocabulary's last id (65530..65535): never sample them
    const logitBias: Record<number, number> = { ...params.logitBias };
    for (let id = tokenizer.vocabSize; id < engine.config.vocabSize; id++) logitBias[id] = -Infinity;
    const sampling = { ...params, logitBias };
    const rng = SeededRng.fromSeed(seed);
    const ctx = SamplerContext.create(params);
    const decoder = new StreamingTextDecoder(tokenizer);
    const stops = new StopMatcher(params.stopStrings);
    let { logits, state } = await engine.prefill(promptIds, engine.zeroState());
    for (let i = 0; i < params.maxTokens && logits; i++) {
      const token = sampleToken(logits, sampling, ctx, rng);
      if (isStopToken(token, params)) break;
      ctx.penalties.record(token);
      const match = stops.push(decoder.push(token));
      process.stdout.write(match.emit);
      if (match.stopped) break;
      ({ logits, state } = await engine.step([token], state));
    }
    if (!stops.stopped) process.stdout.write(stops.push(decoder.flush()).emit + stops.flush());
    process.stdout.write('\n');
  } finally {
    await engine.release();
  }
}

function parseLogitBias(items: string[]): Record<number, number> {
  const bias: Record<number, number> = {};
  for (const item of items) {
    const m = /^(\d+):(-?[\d.]+(?:e-?\d+)?|-?Infinity)$/.exec(item.trim());
    if (!m) throw new InvalidArgumentError(`--logit-bias: expected ID:BIAS like 11:-5, got '${item}'`);
    bias[Number(m[1])] = Number(m[2]);
  }
  return bias;
}
