const preset = require('../jest.preset.js');
/** @type {import('jest').Config} */
module.exports = {
  ...preset,
  displayName: 'training',
  rootDir: '.',
  moduleNameMapper: {
    '^@gooseherd/engine$': '<rootDir>/../engine/src/index.ts',
    '^@gooseherd/(contracts|store|queue|agent-runtime)$': '<rootDir>/../libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testTimeout: 120000,
};
