import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rwkv7Checkpoint } from '../model/rwkv7-config.js';
import { buildRwkv7Graph, Rwkv7GraphSpec } from '../graph/rwkv7-graph.js';

/** Bump when the emitted graph changes, so stale cached graphs are never loaded. */
export const GRAPH_BUILDER_VERSION = 3;

/** `$GOOSEHERD_CACHE_DIR`, else `$XDG_CACHE_HOME/gooseherd`, else `~/.cache/gooseherd`. */
export function defaultCacheDir(): string {
  if (process.env.GOOSEHERD_CACHE_DIR) return process.env.GOOSEHERD_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'gooseherd');
}

export interface CachedGraph {
  readonly modelPath: string;
  /** True when this call built the graph, false when it was already on disk. */
  readonly built: boolean;
}

/**
 * Returns the path of the ONNX graph for (checkpoint fingerprint, spec), building and saving it on a miss.
 * Graphs are written to a temporary folder and renamed into place, so a crash or a concurrent builder never
 * leaves a half-written graph under the final key.
 */
export function cachedGraph(
  ckpt: Rwkv7Checkpoint,
  fingerprint: string,
  spec: Rwkv7GraphSpec,
  cacheDir = defaultCacheDir(),
): CachedGraph {
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GRAPH_BUILDER_VERSION, fingerprint, spec }))
    .digest('hex')
    .slice(0, 32);
  const dir = path.join(cacheDir, 'graphs', key);
  const modelPath = path.join(dir, 'model.onnx');
  if (fs.existsSync(modelPath)) return { modelPath, built: false };

  fs.mkdirSync(path.join(cacheDir, 'graphs'), { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheDir, 'graphs', `.${key}-`));
  try {
    buildRwkv7Graph(ckpt, spec).save(path.join(tmp, 'model.onnx'));
    fs.writeFileSync(
      path.join(tmp, 'spec.json'),
      JSON.stringify({ fingerprint, spec, config: ckpt.config }, null, 2),
    );
    try {
      fs.renameSync(tmp, dir);
    } catch (err) {
      // another process won the race: its graph is identical, use it
      if (!fs.existsSync(modelPath)) throw err;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return { modelPath, built: true };
}
