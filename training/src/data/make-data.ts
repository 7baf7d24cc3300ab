/**
 * The deterministic data script: `npm run data -w @gooseherd/training -- [--seed 1] [--train-mb 150]`.
 * Writes into training/data/ (git-ignored): train.bin.gz and val.bin.gz (UTF-8 documents separated by a 0 byte,
 * the trainer's format), eval-cases.jsonl (held-out prompts with the expected call or answer) and stats.json.
 * Train documents use the training templates and seed; validation uses held-out templates (every fifth
 * phrasing of each list) and its own seed, so validation loss measures phrasings the model never saw.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readBrown, readWordNet } from './corpora.js';
import { Rng } from './rng.js';
import {
  agentTranscript,
  memoryTranscript,
  proseDoc,
  type Ctx,
  type Doc,
  type EvalCase,
} from './transcripts.js';
import type { Split } from './tools.js';
import { buildPools, type Pools } from './vocabulary.js';

export interface DataOptions {
  readonly seed: number;
  readonly outDir: string;
  readonly trainBytes: number;
  readonly valBytes: number;
  readonly evalCases: number;
}

/** Share of documents by kind. */
const MIX = [
  [0.5, 'agent'],
  [0.2, 'memory'],
  [0.3, 'prose'],
] as const;

export function* documents(
  pools: Pools,
  brown: readonly string[],
  split: Split,
  seed: number,
): Generator<Doc & { kind: string }> {
  const ctx: Ctx = { rng: new Rng(seed), pools, split };
  for (;;) {
    const kind = ctx.rng.weighted(MIX);
    const doc =
      kind === 'agent'
        ? agentTranscript(ctx)
        : kind === 'memory'
          ? memoryTranscript(ctx)
          : proseDoc(ctx, brown);
    yield { ...doc, kind };
  }
}

async function writeStream(
  file: string,
  docs: Generator<Doc & { kind: string }>,
  limit: number,
  onCases?: (cases: EvalCase[]) => void,
): Promise<Record<string, number>> {
  const gz = zlib.createGzip({ level: 6 });
  const out = fs.createWriteStream(file);
  gz.pipe(out);
  const bytesByKind: Record<string, number> = {};
  let total = 0;
  const sep = Buffer.from([0]);
  while (total < limit) {
    const doc = docs.next().value as Doc & { kind: string };
    const buf = Buffer.from(doc.text, 'utf8');
    if (buf.includes(0)) throw new Error('a document contains a 0 byte, the separator');
    if (!gz.write(buf)) await new Promise<void>((r) => gz.once('drain', r));
    gz.write(sep);
    total += buf.length + 1;
    bytesByKind[doc.kind] = (bytesByKind[doc.kind] ?? 0) + buf.length + 1;
    onCases?.(doc.cases);
  }
  gz.end();
  await new Promise<void>((r) => out.on('close', r));
  return bytesByKind;
}

export async function makeData(opts: DataOptions): Promise<void> {
  const started = Date.now();
  const glosses = readWordNet();
  const brown = readBrown();
  const pools = buildPools(glosses, brown);
  // Brown paragraphs are split too: every 50th goes to validation only
  const brownTrain = brown.filter((_, i) => i % 50 !== 0);
  const brownVal = brown.filter((_, i) => i % 50 === 0);
  fs.mkdirSync(opts.outDir, { recursive: true });

  const cases: EvalCase[] = [];
  const train = await writeStream(
    path.join(opts.outDir, 'train.bin.gz'),
    documents(pools, brownTrain, 'train', opts.seed),
    opts.trainBytes,
  );
  const val = await writeStream(
    path.join(opts.outDir, 'val.bin.gz'),
    documents(pools, brownVal, 'val', opts.seed + 1_000_003),
    opts.valBytes,
  );
  // evaluation cases: held-out templates, a third seed, one case per document so they are independent
  const evalDocs = documents(pools, brownVal, 'val', opts.seed + 2_000_006);
  const perKind = new Map<string, number>();
  while (cases.length < opts.evalCases) {
    const doc = evalDocs.next().value as Doc;
    const c = doc.cases.length ? doc.cases[0] : undefined;
    if (!c || (perKind.get(c.kind) ?? 0) >= opts.evalCases / 4) continue;
    perKind.set(c.kind, (perKind.get(c.kind) ?? 0) + 1);
    cases.push(c);
  }
  fs.writeFileSync(
    path.join(opts.outDir, 'eval-cases.jsonl'),
    cases.map((c) => JSON.stringify(c)).join('\n') + '\n',
  );
  const stats = {
    seed: opts.seed,
    glosses: glosses.length,
    brownParagraphs: brown.length,
    nouns: pools.nouns.length,
    trainBytesByKind: train,
    valBytesByKind: val,
    evalCasesByKind: Object.fromEntries(perKind),
    seconds: (Date.now() - started) / 1000,
  };
  fs.writeFileSync(path.join(opts.outDir, 'stats.json'), JSON.stringify(stats, null, 2) + '\n');
  console.log(JSON.stringify(stats));
}

function parseArgs(argv: string[]): DataOptions {
  const get = (flag: string, dflt: number) => {
    const i = argv.indexOf(flag);
    if (i < 0) return dflt;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} needs a positive number, got ${argv[i + 1]}`);
    return v;
  };
  const outIdx = argv.indexOf('--out');
  return {
    seed: get('--seed', 1),
    outDir: outIdx >= 0 ? argv[outIdx + 1] : path.join(__dirname, '..', '..', 'data'),
    trainBytes: Math.round(get('--train-mb', 150) * 1e6),
    valBytes: Math.round(get('--val-mb', 2) * 1e6),
    evalCases: get('--eval-cases', 400),
  };
}

if (require.main === module) {
  makeData(parseArgs(process.argv.slice(2))).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
