import { Command, InvalidArgumentError } from 'commander';
import { benchmarkEngine, BenchShape, MODEL_SHAPES, WeightDType } from '@gooseherd/engine';
import { action } from '../cli-error.js';
import { parseDType, parseIntArg } from '../options.js';

interface BenchOptions {
  shape: BenchShape;
  dtype: WeightDType;
  batch: number;
  threads?: number;
  steps: number;
  repeats: number;
  prefillTokens: number;
  json?: boolean;
}

function parseShape(value: string): BenchShape {
  if (!(value in MODEL_SHAPES)) {
    throw new InvalidArgumentError(`expected one of ${Object.keys(MODEL_SHAPES).join(', ')}, got '${value}'`);
  }
  return value as BenchShape;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('decode and prefill throughput of a random-weight model at a real shape')
    .requiredOption('--shape <shape>', '0.1b (12×768) or 0.4b (24×1024)', parseShape)
    .option('--dtype <dtype>', 'weight storage: fp32|fp16|int8|int4', parseDType, 'fp32')
    .option('--batch <n>', 'agents advanced per decode step', parseIntArg(1, 1024), 1)
    .option('--threads <n>', 'onnxruntime threads (default: all CPUs)', parseIntArg(1, 256))
    .option('--steps <n>', 'timed decode steps per round', parseIntArg(1), 16)
    .option('--repeats <n>', 'rounds; the median is reported', parseIntArg(1), 5)
    .option('--prefill-tokens <n>', 'prompt length for the prefill figure', parseIntArg(1), 512)
    .option('--json', 'print one JSON object as the last line of stdout')
    .action(
      action(async (opts: BenchOptions) => {
        const log = (line: string) => process.stderr.write(`${line}\n`);
        const r = await benchmarkEngine({
          shape: opts.shape,
          dtype: opts.dtype,
          batch: opts.batch,
          threads: opts.threads,
          decodeSteps: opts.steps,
          repeats: opts.repeats,
          prefillTokens: opts.prefillTokens,
          log,
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r)}\n`);
          return;
        }
        const mb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
        process.stdout.write(
          [
            `model            ${r.shape} random weights, ${(r.parameters / 1e6).toFixed(1)}M parameters, ${r.dtype}`,
            `decode           ${r.decodeTokensPerSecond.toFixed(1)} tokens/s aggregate at batch ${r.batch} (${r.decodeMsPerStep.toFixed(2)} ms/step)`,
            `prefill          ${r.prefillTokensPerSecond.toFixed(0)} tokens/s (${r.prefillTokens} tokens, chunks of ${r.prefillChunk})`,
            `state            ${r.stateBytes} bytes per agent`,
            `weights/token    ${mb(r.weightBytesPerToken)} read per batch-1 decode step`,
            `memory           ${mb(r.steadyRssBytes)} resident after warm-up, ${mb(r.peakRssBytes)} peak`,
            '',
          ].join('\n'),
        );
      }),
    );
}
