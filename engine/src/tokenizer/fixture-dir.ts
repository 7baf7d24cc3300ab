/** Where the shared RWKV-7 fixtures live (tests only); one definition for the whole engine. */
import { fixtureDir } from '../testing/fixtures.js';

export function rwkv7FixtureDir(): string {
  return fixtureDir();
}
