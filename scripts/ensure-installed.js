#!/usr/bin/env node
// Makes `npm start` and `npm test` work as the first commands on a fresh clone: when dependencies or the
// compiled apps are missing, runs `npm ci` (whose `prepare` script compiles everything). A no-op otherwise.
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const NEEDED = ['node_modules/.package-lock.json', 'apps/api/dist/main.js', 'apps/worker/dist/main.js'];

function ensureInstalled() {
  const missing = NEEDED.filter((file) => !fs.existsSync(path.join(ROOT, file)));
  if (missing.length === 0) return;
  process.stdout.write(`[gooseherd] ${missing.join(', ')} missing: running npm ci (installs and builds)\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, ['ci'], {
    cwd: ROOT,
    stdio: 'inherit',
    // onnxruntime-node's install script downloads GPU providers; the CPU provider ships in the package.
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
  });
  if (result.status !== 0) {
    process.stderr.write('[gooseherd] npm ci failed; see its output above\n');
    process.exit(result.status ?? 1);
  }
}

module.exports = { ensureInstalled };
if (require.main === module) ensureInstalled();
