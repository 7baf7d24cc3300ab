/**
 * Where the shared RWKV-7 fixtures live (tests only): `$GOOSEHERD_FIXTURES` if set (the folder that holds
 * `tokenizer-cases.json`, i.e. the `rwkv7` folder itself), otherwise `<repo root>/../shared/fixtures/rwkv7`.
 */
import * as path from 'node:path';

export function rwkv7FixtureDir(): string {
  const fromEnv = process.env['GOOSEHERD_FIXTURES'];
  if (fromEnv) return path.resolve(fromEnv);
  const repoRoot = path.resolve(__dirname, '../../..');
  return path.resolve(repoRoot, '../shared/fixtures/rwkv7');
}
