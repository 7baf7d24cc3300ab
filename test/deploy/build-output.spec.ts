import * as path from 'node:path';
import ts from 'typescript';
import { repoPath } from './deploy-files';

// What `npm run build` compiles into each shipped package's dist/ (and so into the container image): the
// package's code and nothing of its tests. Asked of the TypeScript compiler itself (its reading of each
// build config's include and exclude).

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
const TEST_FILE = /\.(spec|test|probe)\.ts$|\/src\/e2e\/|\/src\/testing\/private-redis/;

/** The files a package's build config compiles: its `include` minus its `exclude`, as tsc reads them. */
function compiledFiles(dir: string): string[] {
  const configPath = repoPath(`${dir}/tsconfig.json`);
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!parsed) throw new Error(`${configPath}: not a tsconfig`);
  return parsed.fileNames;
}

describe('the build of each shipped package', () => {
  it.each(SHIPPED)('%s compiles no test files', (dir) => {
    const own = compiledFiles(dir).filter((file) =>
      path.resolve(file).startsWith(repoPath(`${dir}/src`) + path.sep),
    );
    expect(own.length).toBeGreaterThan(0);
    expect(own.filter((file) => TEST_FILE.test(file))).toEqual([]);
  });
});
