/**
 * The full engine benchmark behind engine/BENCHMARKS.md. Run after `npm ci` with `npm run bench:engine`
 * (add `-- --quick` for a short pass). Every configuration runs in its own child process
 * (`gooseherd model bench --json`), so peak memory is per configuration; the memory bandwidth is measured
 * right before each batch-1 run, so the bandwidth-bound ratio compares figures taken side by side.
 * Writes engine/bench-results/<timestamp>.json and .md. Options: `--quick`, `--shapes 0.1b,0.4b`,
 * `--dtypes fp32,int8`, `--skip configs,sweep,transformer`.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { WeightDType } from '../graph/linear-weights.js';
import { benchmarkContextSweep, ContextPoint, EngineBenchResult } from './engine-bench.js';
import { measureReadBandwidth } from './memory-bandwidth.js';
import { measureSgemmRate, prefillFlopsPerToken } from './sgemm-rate.js';
import { MODEL_SHAPES, resolveShape } from '../checkpoint/index.js';
import { benchmarkTransformerDecode, TRANSFORMER_SHAPES, TransformerBenchRow } from './transformer/index.js';

const repoRoot = path.resolve(__dirname, '../../..');
const cli = path.join(repoRoot, 'apps/cli/bin/gooseherd.js');
const quick = process.argv.includes('--quick');
const only = (flag: string) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1].split(',') : undefined;
};
const threads = Math.max(1, os.availableParallelism());
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Row extends EngineBenchResult {
  bandwidthGBs?: number;
  boundTokensPerSecond?: number;
  ratioToBound?: number;
  sgemmGflops?: number;
  prefillCeilingTokensPerSecond?: number;
  prefillRatioToCeiling?: number;
}

function runConfig(shape: string, dtype: WeightDType, batch: number): EngineBenchResult {
  const args = [
    cli,
    'model',
    'bench',
    '--shape',
    shape,
    '--dtype',
    dtype,
    '--batch',
    String(batch),
    '--json',
  ];
  if (quick) args.push('--repeats', '3', '--steps', '8', '--prefill-tokens', '256');
  const out = execFileSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop() as string);
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.availableParallelism(),
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    onnxruntime: ort.env.versions.common,
    loadAverageAtStart: os.loadavg().map((x) => +x.toFixed(2)),
  };
  log(`machine: ${JSON.stringify(machine)}`);
  const shapes = only('--shapes') ?? (quick ? ['0.1b'] : ['0.1b', '0.4b']);
  const dtypes = (only('--dtypes') ?? ['fp32', 'fp16', 'int8', 'int4']) as WeightDType[];
  const rows: Row[] = [];
  const skip = (part: string) => (only('--skip') ?? []).includes(part);
  for (const shape of skip('configs') ? [] : shapes) {
    for (const dtype of dtypes) {
      const batches = dtype === 'fp32' || dtype === 'int8' ? [1, 8, 32] : [1];
      for (const batch of batches) {
        log(`--- ${shape} ${dtype} batch ${batch}`);
        const bw = batch === 1 ? await measureReadBandwidth(threads) : undefined;
        const sgemm = batch === 1 && dtype === 'fp32' ? await measureSgemmRate(threads) : undefined;
        const r: Row = runConfig(shape, dtype, batch);
        if (sgemm) {
          const config = resolveShape(MODEL_SHAPES[shape as keyof typeof MODEL_SHAPES]);
          r.sgemmGflops = sgemm;
          r.prefillCeilingTokensPerSecond = (sgemm * 1e9) / prefillFlopsPerToken(config);
          r.prefillRatioToCeiling = r.prefillTokensPerSecond / r.prefillCeilingTokensPerSecond;
        }
        if (bw) {
          r.bandwidthGBs = bw.gbPerSecond;
          r.boundTokensPerSecond = (bw.gbPerSecond * 1e9) / r.weightBytesPerToken;
          r.ratioToBound = r.decodeTokensPerSecond / r.boundTokensPerSecond;
        }
        rows.push(r);
        log(JSON.stringify(r));
      }
    }
  }

  const contexts = quick ? [0, 4096] : [0, 4096, 32768, 131072];
  log(`--- context sweep 0.1b fp32: ${contexts.join(', ')}`);
  const sweep: ContextPoint[] = skip('sweep')
    ? []
    : await benchmarkContextSweep({ shape: '0.1b', dtype: 'fp32', contexts, threads, repeats: 15, log });

  const tfContexts = quick ? [1024, 4096] : [1024, 4096, 16384, 65536];
  log(`--- transformer baseline 0.1b: ${tfContexts.join(', ')}`);
  const transformer: TransformerBenchRow[] = skip('transformer')
    ? []
    : await benchmarkTransformerDecode({
        shape: TRANSFORMER_SHAPES['0.1B'],
        contexts: tfContexts,
        threads,
        repeats: 5,
      });
  const bandwidthAtEnd = await measureReadBandwidth(threads);

  const result = { started: started.toISOString(), machine, quick, rows, sweep, transformer, bandwidthAtEnd };
  const outDir = path.join(repoRoot, 'engine/bench-results');
  fs.mkdirSync(outDir, { recursive: true });
  const stem = path.join(outDir, started.toISOString().replace(/[:.]/g, '-'));
  fs.writeFileSync(`${stem}.json`, JSON.stringify(result, null, 2));
  fs.writeFileSync(`${stem}.md`, renderMarkdown(result));
  process.stdout.write(renderMarkdown(result));
  log(`wrote ${stem}.json and .md`);
}

function renderMarkdown(r: {
  started: string;
  machine: Record<string, unknown>;
  rows: Row[];
  sweep: ContextPoint[];
  transformer: TransformerBenchRow[];
  bandwidthAtEnd: { gbPerSecond: number; method: string };
}): string {
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const f = (x: number | undefined, d = 1) => (x === undefined ? '' : x.toFixed(d));
  const lines = [
    `Run ${r.started} on ${JSON.stringify(r.machine)}`,
    '',
    '| shape | dtype | batch | decode tok/s | ms/step | prefill tok/s | read GB/s | bound tok/s | ratio | sgemm GFLOP/s | prefill ceiling tok/s | prefill ratio | weights MiB/token | state bytes | RSS MiB (steady / peak) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.rows.map(
      (x) =>
        `| ${x.shape} | ${x.dtype} | ${x.batch} | ${f(x.decodeTokensPerSecond)} | ${f(x.decodeMsPerStep, 2)} | ${f(x.prefillTokensPerSecond, 0)} | ${f(x.bandwidthGBs)} | ${f(x.boundTokensPerSecond)} | ${f(x.ratioToBound, 2)} | ${f(x.sgemmGflops, 0)} | ${f(x.prefillCeilingTokensPerSecond, 0)} | ${f(x.prefillRatioToCeiling, 2)} | ${mib(x.weightBytesPerToken)} | ${x.stateBytes} | ${mib(x.steadyRssBytes)} / ${mib(x.peakRssBytes)} |`,
    ),
    '',
    '| RWKV-7 0.1b fp32, context | decode ms/token |',
    '| --- | --- |',
    ...r.sweep.map((p) => `| ${p.context} | ${p.msPerToken.toFixed(2)} |`),
    '',
    '| transformer 0.1b fp32 (KV cache), context | ms/token | KV cache MiB | RSS MiB |',
    '| --- | --- | --- | --- |',
    ...r.transformer.map(
      (t) => `| ${t.context} | ${t.msPerToken.toFixed(2)} | ${mib(t.kvCacheBytes)} | ${mib(t.rssBytes)} |`,
    ),
    '',
    `Read bandwidth at the end: ${r.bandwidthAtEnd.gbPerSecond.toFixed(1)} GB/s (${r.bandwidthAtEnd.method})`,
    '',
  ];
  return lines.join('\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
