const preset = require('../../jest.preset.js');
/** @type {import('jest').Config} */
module.exports = { ...preset, displayName: 'queue', rootDir: '.', testTimeout: 120000 };
