const preset = require('../../jest.preset.js');
/** @type {import('jest').Config} */
module.exports = { ...preset, displayName: 'grammar', rootDir: '.', testTimeout: 120000 };
