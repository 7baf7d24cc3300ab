import { configuredApiKeys, type Env } from '@gooseherd/contracts';

/** Keys shorter than this are refused at start. */
export const MIN_KEY_CHARS = 16;
/** Keys whose estimated entropy is below this are refused at start (a random 16-character base64 key has 96). */
export const MIN_KEY_BITS = 64;

const CLASSES: [RegExp, number][] = [
  [/[a-z]/, 26],
  [/[A-Z]/, 26],
  [/[0-9]/, 10],
  [/[^a-zA-Z0-9]/, 33],
];

/**
 * A conservative estimate of a key's entropy in bits: each character that does not continue a pattern of the
 * ones before it (a repetition with a period of up to 4, as in `aaaa`, `abab`, `qweqwe`, or a run of
 * consecutive characters, as in `1234`, `cba`) is worth log2 of the alphabet its character classes span.
 * Random keys lose almost nothing; typed patterns lose most of their length. Dictionary words are not
 * detected: keys are meant to be generated (`openssl rand -hex 24`), this catches placeholders and runs.
 */
export function estimateKeyEntropyBits(key: string): number {
  const codes = [...key].map((char) => char.codePointAt(0) as number);
  const alphabet = CLASSES.reduce((sum, [pattern, size]) => sum + (pattern.test(key) ? size : 0), 0);
  const continuesPattern = (i: number): boolean => {
    for (let period = 1; period <= 4 && i - period >= 0; period++) {
      const repeats = codes[i] === codes[i - period];
      if (repeats && (period === 1 || (i - 1 - period >= 0 && codes[i - 1] === codes[i - 1 - period])))
        return true;
    }
    const step = codes[i] - codes[i - 1];
    return i >= 2 && Math.abs(step) === 1 && codes[i - 1] - codes[i - 2] === step;
  };
  const unpredictable = codes.filter((_, i) => !continuesPattern(i)).length;
  return unpredictable * Math.log2(Math.max(alphabet, 1));
}

/** Why the configured keys are unacceptable, one line per key naming its variable; empty when all are fine. */
export function weakApiKeyProblems(env: Env): string[] {
  const problems: string[] = [];
  const fromList = new Set(
    (env.GOOSEHERD_API_KEYS?.split(',') ?? []).map((item) => item.slice(item.indexOf(':') + 1)),
  );
  for (const [tenant, key] of configuredApiKeys(env)) {
    const variable =
      key === env.GOOSEHERD_API_KEY && !fromList.has(key)
        ? 'GOOSEHERD_API_KEY'
        : `GOOSEHERD_API_KEYS (tenant ${tenant})`;
    if ([...key].length < MIN_KEY_CHARS) {
      problems.push(`${variable}: a key must be at least ${MIN_KEY_CHARS} characters`);
      continue;
    }
    const bits = estimateKeyEntropyBits(key);
    if (bits < MIN_KEY_BITS) {
      problems.push(
        `${variable}: the key looks guessable (about ${Math.floor(bits)} bits of entropy, at least ` +
          `${MIN_KEY_BITS} needed); generate one, e.g. \`openssl rand -hex 24\``,
      );
    }
  }
  return problems;
}
