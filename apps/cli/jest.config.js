const preset = require('../../jest.preset.js');
/** @type {import('jest').Config} */
module.exports = { ...preset, displayName: 'cli', rootDir: '.', testTimeout: 300000 };
