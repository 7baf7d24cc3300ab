import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { repoPath } from './deploy-files';

// What `npm run build` compiles into each shipped package's dist/ (and so into the container image): the
// package's code and nothing of its tests. Asked of the TypeScript compiler itself (`tsc --listFilesOnly`).

const SHIPPED = [
  'engine',
  'libs/contracts',
  'libs/store',
  'libs/queue',
  'libs/agent-runtime',
  'apps/api',
  'apps/worker',
  'apps/cli',
];
const TSC = require.resolve('typescript/bin/tsc');
const TEST_FILE = /\.(spec|test|probe)\.ts$|\/src\/e2e\/|\/src\/testing\/private-redis/;

describe('the build of each shipped package', () => {
  it.each(SHIPPED)('%s compiles no test files', (dir) => {
    const result = spawnSync(
      process.execPath,
      [TSC, '-p', repoPath(`${dir}/tsconfig.json`), '--listFilesOnly'],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(result.status).toBe(0);
    const own = result.stdout
      .split('\n')
      .filter((file) => file.startsWith(repoPath(`${dir}/src`) + path.sep));
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((file) => TEST_FILE.test(file))).toEqual([]);
  });
});
