/**
 * Test-only: the embedded model opened once per Jest worker, with graphs cached under the OS temp folder so
 * repeated runs skip the graph build.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel, type LoadedModel } from '../model-loader.js';

export const TEST_DATA_DIR = path.join(os.tmpdir(), 'gooseherd-agent-runtime-tests');

let shared: Promise<LoadedModel> | undefined;

export function testModel(): Promise<LoadedModel> {
  shared ??= loadModel({ modelName: 'test', dataDir: TEST_DATA_DIR, threads: 2 });
  return shared;
}

/** The shared RWKV-7 fixtures (`../shared/fixtures/rwkv7` beside the repository, or $GOOSEHERD_FIXTURES). */
export function fixtureDir(): string | undefined {
  const dir =
    process.env['GOOSEHERD_FIXTURES'] ?? path.resolve(__dirname, '../../../..', '../shared/fixtures/rwkv7');
  return fs.existsSync(path.join(dir, 'rwkv_vocab_v20230424.txt')) ? dir : undefined;
}
