#!/usr/bin/env node
'use strict';
// Compiled by `npm ci` (the root `prepare` script) or `npm run build`.
require('../dist/main.js').main(process.argv);
