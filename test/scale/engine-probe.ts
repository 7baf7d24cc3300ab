/**
 * The engine-level measurements behind the findings in test/scale/README.md, in this process, with the
 * embedded model: page faults and time per decode step by batch size, how long an engine call blocks the
 * event loop, and what a batched prefill costs by prompt length. Run after `tsc -b test`:
 *
 *   node test/dist/scale/engine-probe.js [--threads N]
 *   GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296 \
 *     node test/dist/scale/engine-probe.js            # the same without fresh pages for every output
 */
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { loadModel } from '@gooseherd/agent-runtime';
import { SHARED_DATA_DIR } from '@gooseherd/test-kit';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '2' } } });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const model = await loadModel({
    modelName: 'rwkv7-embedded-random',
    dataDir: SHARED_DATA_DIR,
    threads: Number(args.threads),
  });
  const engine = model.engine;
  console.log(`${model.describe}; ${args.threads} thread(s); load average ${os.loadavg()[0].toFixed(2)}`);
  console.log(`GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES ?? '(unset)'}`);

  // 1. Decode step time and minor page faults per step, by batch size (9 steps each, medians).
  for (const batch of [1, 32, 64, 96, 128, 200]) {
    const state = engine.zeroState(batch);
    const tokens = Array.from({ length: batch }, () => 65);
    const ms: number[] = [];
    const faults: number[] = [];
    for (let i = 0; i < 9; i++) {
      const f0 = process.resourceUsage().minorPageFault;
      const t0 = performance.now();
      await engine.step(tokens, state);
      ms.push(performance.now() - t0);
      faults.push(process.resourceUsage().minorPageFault - f0);
    }
    const mib = (batch * engine.stateSize * 4) / 2 ** 20;
    console.log(
      `step, batch ${String(batch).padStart(3)} (${mib.toFixed(1)} MiB of state): ${median(ms).toFixed(1)} ms, ` +
        `${(median(ms) / batch).toFixed(2)} ms/agent, ${median(faults)} minor page faults per step`,
    );
  }

  // 2. How long one engine call keeps the event loop from running anything else.
  for (const batch of [50, 200]) {
    const state = engine.zeroState(batch);
    const chunks = Array.from({ length: batch }, () => Array.from({ length: 30 }, (_, i) => 40 + i));
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    longest = 0;
    last = performance.now();
    const t0 = performance.now();
    await engine.prefillBatch(chunks, state);
    const took = performance.now() - t0;
    await new Promise((resolve) => setTimeout(resolve, 5));
    clearInterval(timer);
    console.log(
      `prefill of ${batch} 30-token prompts: ${took.toFixed(0)} ms; longest event-loop gap ${longest.toFixed(0)} ms`,
    );
  }

  // 3. A batched prefill of 100 prompts by prompt length (the chunk is padded to engine.prefillChunk).
  const state = engine.zeroState(100);
  for (const length of [4, 30, engine.prefillChunk]) {
    const chunks = Array.from({ length: 100 }, () => Array.from({ length }, (_, i) => 40 + (i % 50)));
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await engine.prefillBatch(chunks, state);
      ms.push(performance.now() - t0);
    }
    console.log(`prefill of 100 prompts of ${length} tokens: ${median(ms).toFixed(0)} ms`);
  }
  await engine.release();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
