// Run only by fixtures.spec.ts, in a Jest of its own: a suite guarded by withFixtures.
import { withFixtures } from '../fixtures';

describe('a suite that needs the RWKV-7 fixtures', () => {
  withFixtures(() => {
    it('checks something against them', () => {
      expect(1).toBe(1);
    });
  });
});
