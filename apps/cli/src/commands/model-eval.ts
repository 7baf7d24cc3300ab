import { Command } from 'commander';
import { WeightDType } from '@gooseherd/engine';
import { action } from '../cli-error.js';
import { parseDType, parseIntArg, parseTokenList, readUserFile, writeUserFile } from '../options.js';
import { openModel } from './open-model.js';

interface EvalOptions {
  model: string;
  tokens: number[];
  out: string;
  stateIn?: string;
  stateOut?: string;
  dtype: WeightDType;
  threads?: number;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description(
      'run tokens through the model; write float32 little-endian logits [T, V] (row p = after tokens 0..p)',
    )
    .requiredOption('--model <file>', 'checkpoint (.pth or .safetensors)')
    .requiredOption('--tokens <ids>', 'comma-separated token ids, e.g. 1,2,3', parseTokenList)
    .requiredOption('--out <file>', 'where to write the logits')
    .option(
      '--state-in <file>',
      'start from this state (float32 LE, per layer [att shift C][wkv H·N·N][ffn shift C])',
    )
    .option('--state-out <file>', 'write the final state in the same layout')
    .option('--dtype <dtype>', 'weight storage: fp32|fp16|int8|int4', parseDType, 'fp32')
    .option('--threads <n>', 'onnxruntime threads', parseIntArg(1, 256))
    .action(
      action(async (opts: EvalOptions) => {
        const engine = await openModel(opts.model, opts.dtype, opts.threads);
        try {
          const V = engine.config.vocabSize;
          const bad = opts.tokens.find((t) => t >= V);
          if (bad !== undefined)
            throw new Error(`--tokens: id ${bad} is outside the model's vocabulary 0..${V - 1}`);
          let state = engine.zeroState();
          if (opts.stateIn) state = readState(opts.stateIn, engine.stateSize);
          const result = await engine.evaluate(opts.tokens, state);
          writeUserFile(
            '--out',
            opts.out,
            new Uint8Array(result.logits.buffer, result.logits.byteOffset, result.logits.byteLength),
          );
          if (opts.stateOut) {
            const s = result.state;
            writeUserFile('--state-out', opts.stateOut, new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
          }
        } finally {
          await engine.release();
        }
      }),
    );
}

function readState(file: string, floats: number): Float32Array {
  const bytes = readUserFile('--state-in', file);
  if (bytes.byteLength !== floats * 4) {
    throw new Error(
      `--state-in ${file}: expected ${floats * 4} bytes (${floats} float32 values, L·(2C + H·N²) for this model), got ${bytes.byteLength}`,
    );
  }
  const state = new Float32Array(floats);
  new Uint8Array(state.buffer).set(bytes);
  if (!state.every(Number.isFinite)) throw new Error(`--state-in ${file}: contains NaN or infinite values`);
  return state;
}
