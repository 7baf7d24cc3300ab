/**
 * `npm run bench:grammar`: what constrained decoding costs on the World vocabulary.
 *
 * - mask time per token (p50/p99) of the XGrammar-based matcher while a random-weight model writes calls
 *   for the schema suite, and the floor of the pure-TypeScript alternative (one walk of the vocabulary's
 *   byte trie per mask, the part a schema → grammar → trie-walk engine cannot skip without a per-state cache);
 * - decode tokens/s with and without constraints at batch 1 and 16 on the 0.1B shape (random weights, World
 *   vocabulary), unconstrained and constrained rounds alternating so both see the same machine.
 *
 * Writes libs/grammar/bench-results/<time>.json and .md and replaces the table in libs/grammar/README.md.
 * Options: `--steps N` decode steps per round (default 48), `--rounds N` (default 3).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFingerprint, MODEL_SHAPES, randomCheckpoint, Rwkv7Engine } from '@gooseherd/engine';
import { applyTokenBitmask, GrammarEngine, type TokenMatcher } from '../constrained-decoding.js';
import type { ConstraintSpec } from '../constraint-spec.js';
import { quantile } from '../testing/constrained-generation.js';
import { sampleFromLogits, seededRandom, worldTokenizer, type TestTokenizer } from '../testing/models.js';
import { SCHEMA_SUITE } from '../testing/schema-suite.js';

const libRoot = path.resolve(__dirname, '../..');
const arg = (flag: string, fallback: number): number => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const STEPS = arg('--steps', 48);
const ROUNDS = arg('--rounds', 3);
const log = (s: string) => process.stderr.write(`${s}\n`);

function cpuModel(): string {
  try {
    const line = execFileSync('lscpu', { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('Model name:'));
    if (line) return line.slice('Model name:'.length).trim();
  } catch {
    // lscpu missing: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/**
 * The pure-TypeScript candidate's floor: one depth-first walk of the vocabulary's byte trie (tokens sorted
 * bytewise, so consecutive tokens share their common prefix), stepping the cheapest possible automaton (JSON
 * string content: no quote, backslash or control byte). A real schema automaton costs more per byte.
 */
function trieWalkMs(tok: TestTokenizer, repeats: number): number[] {
  const tokens: Uint8Array[] = [];
  for (let id = 1; id < tok.vocabSize; id++) tokens.push(tok.tokenBytes(id));
  tokens.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const mask = new Uint32Array(2048);
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    let prev: Uint8Array = new Uint8Array(0);
    let validDepth = 0; // bytes of prev's prefix known valid
    mask.fill(0);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      let common = 0;
      while (common < prev.length && common < t.length && prev[common] === t[common]) common++;
      let depth = Math.min(common, validDepth);
      while (depth < t.length) {
        const b = t[depth];
        if (b === 0x22 || b === 0x5c || b < 0x20) break;
        depth++;
      }
      validDepth = depth;
      if (depth === t.length) mask[i >>> 5] |= 1 << (i & 31);
      prev = t;
    }
    times.push(performance.now() - t0);
  }
  return times;
}

interface DecodeRound {
  readonly tokensPerSecond: number;
  readonly maskMs: number[];
}

async function decodeRound(
  engine: Rwkv7Engine,
  grammar: GrammarEngine | undefined,
  specs: readonly ConstraintSpec[],
  prompt: readonly number[],
  bannedFrom: number,
  seed: number,
): Promise<DecodeRound> {
  const B = specs.length;
  const V = engine.config.vocabSize;
  const S = engine.stateSize;
  const start = await engine.prefill(prompt.slice(0, -1), engine.zeroState(1));
  let state = new Float32Array(B * S);
  for (let b = 0; b < B; b++) state.set(start.state, b * S);
  const matchers: TokenMatcher[] = grammar
    ? await Promise.all(specs.map((s) => grammar.createMatcher(s)))
    : [];
  const mask = new Uint32Array(grammar?.words ?? 0);
  const random = seededRandom(seed);
  const maskMs: number[] = [];
  let last = new Array<number>(B).fill(prompt[prompt.length - 1]);
  const t0 = performance.now();
  for (let step = 0; step < STEPS; step++) {
    const out = await engine.step(last, state);
    state = out.state as Float32Array<ArrayBuffer>;
    for (let b = 0; b < B; b++) {
      const row = out.logits.subarray(b * V, (b + 1) * V);
      if (grammar) {
        const m0 = performance.now();
        matchers[b].fillMask(mask);
        maskMs.push(performance.now() - m0);
        applyTokenBitmask(row, mask);
      } else {
        row.fill(-Infinity, bannedFrom);
      }
      const token = sampleFromLogits(row, random);
      if (grammar) {
        if (!matchers[b].accept(token)) throw new Error('a sampled token was refused');
        if (matchers[b].isTerminated()) {
          matchers[b].dispose();
          // A new turn with the same tools: the compiled grammar is cached, as in a worker.
          matchers[b] = await grammar.createMatcher(specs[b]);
        }
      }
      last[b] = token;
    }
    last = last.slice();
  }
  const seconds = (performance.now() - t0) / 1000;
  for (const m of matchers) m.dispose();
  return { tokensPerSecond: (B * STEPS) / seconds, maskMs };
}

const median = (xs: readonly number[]) => quantile(xs, 0.5);
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

async function main(): Promise<void> {
  const cpu = cpuModel();
  const threads = os.availableParallelism();
  log(
    `CPU: ${cpu}, ${threads} threads, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  const tok = worldTokenizer();
  let t = performance.now();
  const grammar = await GrammarEngine.create({ tokenizer: tok, logitCount: 65536 });
  const engineSetupMs = performance.now() - t;
  const specs: ConstraintSpec[] = SCHEMA_SUITE.map((tool) => ({
    tools: [tool],
    toolChoice: { type: 'function', name: tool.name },
    parallelToolCalls: false,
  }));
  const compileMs: number[] = [];
  // The specs batch 16 uses (compiled here, so decode rounds measure cached grammars as a worker would).
  for (const spec of specs.slice(0, 16)) {
    t = performance.now();
    await grammar.compile(spec);
    compileMs.push(performance.now() - t);
  }
  log(
    `grammar engine ${engineSetupMs.toFixed(0)} ms; compile p50 ${median(compileMs).toFixed(0)} ms per schema`,
  );

  const walk = trieWalkMs(tok, 20);
  log(`pure-TS trie walk floor: p50 ${median(walk).toFixed(2)} ms per mask`);

  log('generating the random 0.1B model (World vocabulary)');
  const ckpt = randomCheckpoint(MODEL_SHAPES['0.1b'], 1, 'bf16');
  const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), { threads, spinning: true });
  await engine.warmUp(['step', 'prefill']);
  engine.dropCheckpoint();
  const prompt = tok.encode('User: What is the weather in Oslo?\n\nAssistant:');

  const rows = [];
  const allMaskMs: number[] = [];
  for (const batch of [1, 16]) {
    const batchSpecs = Array.from({ length: batch }, (_, i) => specs[i % specs.length]);
    const free: number[] = [];
    const constrained: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      free.push((await decodeRound(engine, undefined, batchSpecs, prompt, tok.vocabSize, r)).tokensPerSecond);
      const c = await decodeRound(engine, grammar, batchSpecs, prompt, tok.vocabSize, r);
      constrained.push(c.tokensPerSecond);
      allMaskMs.push(...c.maskMs);
      log(`batch ${batch} round ${r}: ${free[r].toFixed(1)} vs ${constrained[r].toFixed(1)} tokens/s`);
    }
    const maskMs = allMaskMs.slice(-batch * STEPS * ROUNDS);
    rows.push({
      batch,
      tokensPerSecondFree: round(median(free), 1),
      tokensPerSecondConstrained: round(median(constrained), 1),
      costPercent: round((1 - median(constrained) / median(free)) * 100, 1),
      maskMeanMs: round(maskMs.reduce((a, b) => a + b, 0) / maskMs.length),
      maskP50Ms: round(quantile(maskMs, 0.5)),
      maskP99Ms: round(quantile(maskMs, 0.99)),
    });
  }
  await engine.release();

  const record = {
    when: new Date().toISOString(),
    cpu,
    threads,
    loadAverage: os.loadavg().map((l) => round(l, 1)),
    note: 'shared machine: other sessions were running; compare rows of one record, not across records',
    model: '0.1b random weights (bf16 stored, fp32 compute), World vocabulary 65,536 logits',
    stepsPerRound: STEPS,
    rounds: ROUNDS,
    grammarEngine: '@mlc-ai/web-xgrammar 0.1.27 (WebAssembly) + TypeScript free-text scanner',
    engineSetupMs: round(engineSetupMs, 0),
    compileMsPerSchema: { p50: round(median(compileMs), 0), max: round(Math.max(...compileMs), 0) },
    xgrammarMaskMs: {
      p50: round(quantile(allMaskMs, 0.5)),
      p99: round(quantile(allMaskMs, 0.99)),
      samples: allMaskMs.length,
    },
    pureTsTrieWalkFloorMs: { p50: round(median(walk)), p99: round(quantile(walk, 0.99)) },
    decode: rows,
  };
  const table = [
    `Measured ${record.when.slice(0, 16)}Z on ${cpu} (${threads} threads, load average ${record.loadAverage.join(' ')}; a shared machine).`,
    '',
    '| batch | tokens/s free | tokens/s constrained | cost | mask mean | mask p50 | mask p99 |',
    '| ----- | ------------- | -------------------- | ---- | --------- | -------- | -------- |',
    ...rows.map(
      (r) =>
        `| ${r.batch} | ${r.tokensPerSecondFree} | ${r.tokensPerSecondConstrained} | ${r.costPercent}% | ${r.maskMeanMs} ms | ${r.maskP50Ms} ms | ${r.maskP99Ms} ms |`,
    ),
    '',
    `| mask engine (World vocabulary) | p50 | p99 |`,
    '| ------------------------------ | --- | --- |',
    `| XGrammar 0.1.27 (chosen), all masks above | ${record.xgrammarMaskMs.p50} ms | ${record.xgrammarMaskMs.p99} ms |`,
    `| pure TypeScript, floor: one trie walk per mask | ${record.pureTsTrieWalkFloorMs.p50} ms | ${record.pureTsTrieWalkFloorMs.p99} ms |`,
    '',
    `Grammar engine setup ${record.engineSetupMs} ms per vocabulary; compiling one tool's grammar p50 ` +
      `${record.compileMsPerSchema.p50} ms (max ${record.compileMsPerSchema.max} ms), cached per tool set.`,
  ].join('\n');
  const dir = path.join(libRoot, 'bench-results');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = record.when.replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(dir, `${stamp}.json`), `${JSON.stringify(record, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, `${stamp}.md`), `${table}\n`);
  const readme = path.join(libRoot, 'README.md');
  const text = fs.readFileSync(readme, 'utf8');
  const begin = '<!-- bench:grammar begin -->';
  const end = '<!-- bench:grammar end -->';
  if (text.includes(begin) && text.includes(end)) {
    const updated = `${text.slice(0, text.indexOf(begin) + begin.length)}\n${table}\n${text.slice(text.indexOf(end))}`;
    // The README is format-checked by `npm test`: write it as prettier would.
    const prettier = await import('prettier');
    const options = (await prettier.resolveConfig(readme)) ?? {};
    fs.writeFileSync(readme, await prettier.format(updated, { ...options, filepath: readme }));
  }
  process.stdout.write(`${table}\n`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
