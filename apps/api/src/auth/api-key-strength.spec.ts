import { randomBytes } from 'node:crypto';
import { loadEnv } from '@gooseherd/contracts';
import { estimateKeyEntropyBits, MIN_KEY_BITS, weakApiKeyProblems } from './api-key-strength.js';

describe('API key strength', () => {
  it('rates generated keys well above the bar', () => {
    for (let i = 0; i < 200; i++) {
      expect(estimateKeyEntropyBits(randomBytes(12).toString('base64url'))).toBeGreaterThanOrEqual(
        MIN_KEY_BITS,
      );
      expect(estimateKeyEntropyBits(randomBytes(12).toString('hex'))).toBeGreaterThanOrEqual(MIN_KEY_BITS);
      expect(estimateKeyEntropyBits(`gh_${randomBytes(32).toString('base64url')}`)).toBeGreaterThan(200);
    }
  });

  it.each([
    'aaaaaaaaaaaaaaaaaaaaaaaa',
    'abcdefghijklmnopqrstuvwx',
    'abababababababababababab',
    '0000000000000000000001',
    '1234567890123456',
  ])('rates the typed pattern %s below the bar', (key) =>
    expect(estimateKeyEntropyBits(key)).toBeLessThan(MIN_KEY_BITS),
  );

  it('names the variable and the tenant of each weak key', () => {
    const env = loadEnv({
      GOOSEHERD_API_KEY: 'z'.repeat(20),
      GOOSEHERD_API_KEYS: `alice:${randomBytes(16).toString('hex')},eve:qwqwqwqwqwqwqwqwqwqw`,
    });
    const problems = weakApiKeyProblems(env);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^GOOSEHERD_API_KEY: /);
    expect(problems[1]).toMatch(/^GOOSEHERD_API_KEYS \(tenant eve\): /);
    expect(problems.join('\n')).not.toContain('qwqw');
  });
});
