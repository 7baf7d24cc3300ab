const preset = require('../../jest.preset.js');
/** @type {import('jest').Config} */
module.exports = { ...preset, displayName: 'store', rootDir: '.', testTimeout: 120000 };
