const preset = require('../jest.preset.js');
/**
 * Each test file starts its own Redis, API and workers as real processes, so files run one at a time
 * (the machine has two cores) and a test may take minutes.
 * @type {import('jest').Config}
 */
module.exports = {
  ...preset,
  displayName: 'e2e',
  rootDir: '.',
  testEnvironment: require.resolve('./e2e/harness/e2e-environment.js'),
  moduleNameMapper: {
    '^@gooseherd/(contracts|test-kit)$': '<rootDir>/../libs/$1/src/index.ts',
    '^@gooseherd/engine$': '<rootDir>/../engine/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testMatch: [
    '<rootDir>/e2e/**/*.e2e.spec.ts',
    '<rootDir>/deploy/**/*.spec.ts',
    '<rootDir>/scale/**/*.spec.ts',
    '<rootDir>/abuse/**/*.abuse.spec.ts',
    '<rootDir>/load/**/*.load.spec.ts',
    '<rootDir>/chaos/**/*.chaos.spec.ts',
    '<rootDir>/lint/**/*.spec.ts',
  ],
  maxWorkers: 1,
  testTimeout: 600000,
  slowTestThreshold: 60,
};
