#!/usr/bin/env node
// Copies the store's Lua scripts next to its compiled output (libs/store/src/lua → libs/store/dist/lua), so
// `node apps/*/dist/main.js` and the Docker image (which keeps only dist/) find them. Run by `npm run build`.
const fs = require('node:fs');
const path = require('node:path');

const from = path.join(__dirname, '..', 'libs', 'store', 'src', 'lua');
const to = path.join(__dirname, '..', 'libs', 'store', 'dist', 'lua');
fs.cpSync(from, to, {
  recursive: true,
  filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.lua'),
});
