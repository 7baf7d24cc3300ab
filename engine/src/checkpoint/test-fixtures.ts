/**
 * Test-only helpers: where the shared RWKV-7 fixtures live and scratch folders for damaged copies.
 * `$GOOSEHERD_FIXTURES` (the `rwkv7` folder itself) wins; otherwise `<repo root>/../shared/fixtures/rwkv7`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fixtureDir } from '../testing/fixtures.js';

export { fixtureDir };

export const FIXTURE_PTH = 'rwkv7-tiny-A.pth';
export const FIXTURE_SAFETENSORS = 'rwkv7-tiny-A.safetensors';

/** True if both checkpoint fixtures exist; otherwise warns, naming the folder, so the skip is visible. */
export function haveCheckpointFixtures(): boolean {
  const dir = fixtureDir();
  const ok = [FIXTURE_PTH, FIXTURE_SAFETENSORS, 'golden-A.json'].every((f) => existsSync(path.join(dir, f)));
  if (!ok) console.warn(`RWKV-7 checkpoint fixtures not found in ${dir}: fixture tests are not run`);
  return ok;
}

/** A fresh folder under os.tmpdir(); remove it with `cleanup`. */
export async function scratchDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `gooseherd-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
