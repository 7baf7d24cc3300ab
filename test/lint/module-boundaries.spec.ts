import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The module-boundary rules of eslint.config.mjs, run by ESLint itself (a Node process of its own: the config
// is an ES module) on small sources placed, by file name, in each package: every rule refuses its violation
// and lets the allowed import through. `npm test` runs the same rules over the whole tree (`eslint .`).

const ROOT = path.resolve(__dirname, '../..');

const LINT_SOURCES = `
import { ESLint } from 'eslint';
const cases = JSON.parse(process.argv[1]);
const eslint = new ESLint({ cwd: process.cwd() });
const out = [];
for (const { file, code } of cases) {
  const [result] = await eslint.lintText(code, { filePath: file });
  out.push(result.messages.filter((m) => m.ruleId === 'boundaries/dependencies').map((m) => m.message));
}
console.log(JSON.stringify(out));
`;

/** The boundary errors ESLint reports for each `{file, code}`, in order. */
function boundaryErrors(cases: { file: string; code: string }[]): string[][] {
  const result = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', LINT_SOURCES, JSON.stringify(cases)],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 300_000,
    },
  );
  if (result.status !== 0) throw new Error(`eslint failed: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!);
}

const CASES: [string, string, string, RegExp | null][] = [
  ['an app imports a lib', 'apps/worker/src/probe.ts', "import { Keys } from '@gooseherd/store';", null],
  [
    'an app imports the engine',
    'apps/cli/src/probe.ts',
    "import { WEIGHT_DTYPES } from '@gooseherd/engine';",
    null,
  ],
  [
    'an app imports another app',
    'apps/worker/src/probe.ts',
    "import { createApp } from '../../api/src/create-app.js';",
    /"worker" to elements of type "api"/,
  ],
  [
    'a lib imports an app, by package',
    'libs/store/src/probe.ts',
    "import { createApp } from '@gooseherd/api';",
    /"store" to elements of type "api"/,
  ],
  [
    'a lib imports an app, by path',
    'libs/queue/src/probe.ts',
    "import { main } from '../../../apps/worker/src/main.js';",
    /"queue" to elements of type "worker"/,
  ],
  [
    'the engine imports a lib',
    'engine/src/probe.ts',
    "import { LIMITS } from '@gooseherd/contracts';",
    /"engine" to elements of type "contracts"/,
  ],
  ['the worker imports bullmq', 'apps/worker/src/probe.ts', "import { Worker } from 'bullmq';", /"bullmq"/],
  ['libs/queue imports bullmq', 'libs/queue/src/probe.ts', "import { Worker } from 'bullmq';", null],
  ['the API imports ioredis', 'apps/api/src/probe.ts', "import { Redis } from 'ioredis';", /"ioredis"/],
  ['libs/store imports ioredis', 'libs/store/src/probe.ts', "import { Redis } from 'ioredis';", null],
  ['a test file imports ioredis', 'apps/api/src/probe.spec.ts', "import { Redis } from 'ioredis';", null],
  [
    'the worker imports an HTTP decorator',
    'apps/worker/src/probe.ts',
    "import { Controller } from '@nestjs/common';",
    /"@nestjs\/common" and specifiers "Controller"/,
  ],
  [
    'the worker imports Injectable',
    'apps/worker/src/probe.ts',
    "import { Injectable } from '@nestjs/common';",
    null,
  ],
  [
    "the worker imports Nest's Express platform",
    'apps/worker/src/probe.ts',
    "import { ExpressAdapter } from '@nestjs/platform-express';",
    /"@nestjs\/platform-express"/,
  ],
  [
    "the API imports Nest's HTTP layer",
    'apps/api/src/probe.ts',
    "import { Controller } from '@nestjs/common';\nimport { ExpressAdapter } from '@nestjs/platform-express';",
    null,
  ],
  [
    'shipped code imports the test kit',
    'apps/api/src/probe.ts',
    "import { ApiClient } from '@gooseherd/test-kit';",
    /"api" to elements of type "test-kit"/,
  ],
  [
    'a test file imports the test kit',
    'apps/api/src/probe.spec.ts',
    "import { ApiClient } from '@gooseherd/test-kit';",
    null,
  ],
];

describe('module boundaries (eslint.config.mjs)', () => {
  let errors: string[][];

  beforeAll(() => {
    errors = boundaryErrors(
      CASES.map(([, file, code]) => ({ file: path.join(ROOT, file), code: `${code}\nexport {};\n` })),
    );
  });

  it.each(CASES.map((c, i) => [...c, i] as const))('%s: %s', (_what, _file, _code, expected, i) => {
    if (expected === null) expect(errors[i]).toEqual([]);
    else expect(errors[i]).toEqual([expect.stringMatching(expected)]);
  });
});
