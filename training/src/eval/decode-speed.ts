/**
 * Batch-1 decode speed of a model through the engine's step graph on this CPU:
 * `node training/dist/eval/decode-speed.js MODEL.safetensors [threads]`. Prints wall tokens/s (three runs of
 * 300 steps) and CPU time per token, with the load average, since the machine is shared.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFingerprint, loadCheckpoint, Rwkv7Engine } from '@gooseherd/engine';

async function main(modelPath: string, threads: number): Promise<void> {
  const ckpt = await loadCheckpoint(modelPath);
  const cacheDir = path.join(os.tmpdir(), 'gh-decode-speed');
  for (const weights of ['fp32', 'int8'] as const) {
    const engine = Rwkv7Engine.create(ckpt, checkpointFingerprint(ckpt), {
      threads,
      weights,
      spinning: false,
      cacheDir,
    });
    await engine.warmUp(['step']);
    const rates: number[] = [];
    let cpuMs = 0;
    const steps = 300;
    for (let rep = 0; rep < 3; rep++) {
      let state = engine.zeroState(1);
      let token = 84;
      for (let i = 0; i < 10; i++) state = (await engine.step([token], state)).state;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) {
        state = (await engine.step([token], state)).state;
        token = ((i * 7) % 256) + 1;
      }
      rates.push((steps / (performance.now() - t0)) * 1000);
      const cpu = process.cpuUsage(cpu0);
      cpuMs += (cpu.user + cpu.system) / 1000;
    }
    rates.sort((a, b) => a - b);
    console.log(
      `${weights}, ${threads} thread(s): ${rates.map((r) => r.toFixed(0)).join(' / ')} tokens/s (median ` +
        `${rates[1].toFixed(0)}), ${(cpuMs / (3 * steps)).toFixed(2)} ms CPU per token, load ${os.loadavg()[0].toFixed(1)}`,
    );
    await engine.release();
  }
}

if (require.main === module) {
  main(process.argv[2], Number(process.argv[3] ?? 2)).catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
