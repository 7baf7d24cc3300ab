import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { OnnxGraphBuilder } from '../onnx/onnx-graph-builder.js';

/**
 * Saves a measurement graph to a temporary folder, opens it with `threads` intra-op threads and returns the
 * fastest of `runs` runs in seconds (the best run is the one least disturbed by other work on the machine).
 */
export async function bestRunSeconds(
  g: OnnxGraphBuilder,
  feeds: Record<string, ort.Tensor>,
  threads: number,
  runs: number,
  workDir = os.tmpdir(),
): Promise<number> {
  const dir = fs.mkdtempSync(path.join(workDir, 'gooseherd-measure-'));
  try {
    g.save(path.join(dir, 'graph.onnx'));
    const session = await ort.InferenceSession.create(path.join(dir, 'graph.onnx'), {
      intraOpNumThreads: threads,
    });
    try {
      let best = Infinity;
      for (let i = 0; i < runs; i++) {
        const t = process.hrtime.bigint();
        await session.run(feeds);
        best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
      }
      return best;
    } finally {
      await session.release();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
