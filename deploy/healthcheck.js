#!/usr/bin/env node
// The image's HEALTHCHECK. The role is the first argument, or else read from PID 1's command line
// (tini -- docker-entrypoint.sh ROLE):
// - api: GET http://127.0.0.1:$PORT/healthz answers 200;
// - worker (no HTTP port): the Redis at REDIS_URL answers a PING (any RESP reply counts, NOAUTH included;
//   for rediss:// a TCP connection counts, as this script speaks no TLS).
// Exit 0 healthy, 1 not. Plain Node, no dependencies.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');

const TIMEOUT_MS = 3000;

function roleOfPid1() {
  try {
    const argv = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0');
    return argv.includes('worker') ? 'worker' : 'api';
  } catch {
    return 'api';
  }
}

function apiHealthy() {
  const port = Number(process.env.PORT || 8080);
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function redisAnswers() {
  const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379');
  const tls = url.protocol === 'rediss:';
  return new Promise((resolve) => {
    const socket = net.createConnection({
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port || 6379),
    });
    const done = (answer) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(TIMEOUT_MS, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => (tls ? done(true) : socket.write('*1\r\n$4\r\nPING\r\n')));
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString('latin1'))));
  });
}

((process.argv[2] || roleOfPid1()) === 'worker' ? redisAnswers() : apiHealthy()).then((ok) =>
  process.exit(ok ? 0 : 1),
);
