import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The fixture guard, run for real: a Jest process of its own runs a suite guarded by withFixtures with
// GOOSEHERD_FIXTURES pointing at an empty folder, once as CI and once as a developer.

const ENGINE = path.resolve(__dirname, '../..');
const JEST = require.resolve('jest/bin/jest');

function runGuardedSuite(env: Record<string, string>) {
  const result = spawnSync(
    process.execPath,
    [
      JEST,
      '--rootDir',
      ENGINE,
      '-c',
      path.join(ENGINE, 'jest.config.js'),
      '--testMatch',
      '**/fixture-guard-probe/*.probe.ts',
      '--ci',
      '--verbose',
    ],
    {
      cwd: ENGINE,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      timeout: 60_000,
    },
  );
  return { status: result.status, output: `${result.stdout}\n${result.stderr}` };
}

describe('withFixtures, when the fixtures are absent', () => {
  let empty: string;

  beforeAll(() => {
    empty = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-no-fixtures-'));
  });

  afterAll(() => fs.rmSync(empty, { recursive: true, force: true }));

  it('fails the run under CI=true, naming the folder', () => {
    const { status, output } = runGuardedSuite({ CI: 'true', GOOSEHERD_FIXTURES: empty });
    expect(status).not.toBe(0);
    expect(output).toContain(`RWKV-7 fixtures not found in ${empty}`);
    expect(output).toMatch(/Tests:\s+1 failed, 1 total/);
  });

  it('reports the suite as skipped, not passed, elsewhere, naming the folder', () => {
    const { status, output } = runGuardedSuite({ CI: 'false', GOOSEHERD_FIXTURES: empty });
    expect(status).toBe(0);
    expect(output).toContain(`RWKV-7 fixtures not found in ${empty}: the tests that need them are skipped`);
    expect(output).toMatch(/Tests:\s+1 skipped, 1 total/);
  });
});
