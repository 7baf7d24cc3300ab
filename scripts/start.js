#!/usr/bin/env node
// `npm start`: the whole platform on one machine. Starts Redis when nothing answers at REDIS_URL, then one API
// and one worker as child processes; prints the URL and an API key once the API is ready; on Ctrl-C or
// SIGTERM lets the children drain and exits. Plain Node on purpose: it runs the compiled apps (`npm ci`
// builds them) and needs no build of its own.
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const API_MAIN = path.join(ROOT, 'apps/api/dist/main.js');
const WORKER_MAIN = path.join(ROOT, 'apps/worker/dist/main.js');
const CLI_BIN = path.join(ROOT, 'apps/cli/bin/gooseherd.js');
const CLI_MAIN = path.join(ROOT, 'apps/cli/dist/main.js');

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PORT = Number(process.env.PORT || 8080);
const DRAIN_MS = Number(process.env.GOOSEHERD_DRAIN_MS || 10_000);
/** Time the children get beyond their drain grace before they are killed. */
const STOP_MARGIN_MS = 5_000;
/** How long the API may take to answer /readyz with 200. */
const READY_TIMEOUT_MS = Number(process.env.GOOSEHERD_START_TIMEOUT_MS || 120_000);
const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]', '0.0.0.0']);

/** @typedef {{ name: string, child: import('node:child_process').ChildProcess, exited: Promise<{code: number|null, signal: string|null}> }} Child */
/** @type {Child[]} */
const children = [];
let stopping = false;

function log(line) {
  process.stdout.write(`[gooseherd] ${line}\n`);
}

function fail(message) {
  process.stderr.write(`[gooseherd] ${message}\n`);
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when something at host:port answers a RESP PING (any reply, NOAUTH included, counts as an answer). */
function redisAnswers(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (answer) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', (chunk) => done(/^[+-]/.test(chunk.toString('latin1'))));
  });
}

/** Polls `probe` until it returns true or `timeoutMs` passes; false on timeout. */
async function waitUntil(probe, timeoutMs, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await delay(intervalMs);
  }
  return false;
}

/** Spawns a child in its own process group (the terminal's Ctrl-C reaches only us; we stop children in order). */
function startChild(name, command, args, env) {
  const child = spawn(command, args, { cwd: ROOT, env, stdio: 'inherit', detached: true });
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      fail(`could not start the ${name}: ${err.message}`);
      resolve({ code: 127, signal: null });
    });
  });
  const entry = { name, child, exited };
  children.push(entry);
  exited.then(({ code, signal }) => {
    if (stopping) return;
    fail(`the ${name} exited unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`}); stopping`);
    void shutdown(1);
  });
  return entry;
}

function isRunning(entry) {
  return entry.child.exitCode === null && entry.child.signalCode === null;
}

/** SIGTERM to the API and workers, wait for their drain; then Redis (if ours); SIGKILL whatever outlives it. */
async function shutdown(exitCode) {
  if (stopping) return;
  stopping = true;
  const redis = children.filter((c) => c.name === 'redis-server');
  const apps = children.filter((c) => c.name !== 'redis-server');
  await stopAll(apps, DRAIN_MS + STOP_MARGIN_MS);
  await stopAll(redis, STOP_MARGIN_MS);
  log('stopped');
  process.exit(exitCode);
}

async function stopAll(entries, graceMs) {
  const running = entries.filter(isRunning);
  if (running.length === 0) return;
  log(`stopping ${running.map((c) => c.name).join(', ')} (up to ${Math.round(graceMs / 1000)} s)`);
  for (const c of running) c.child.kill('SIGTERM');
  const timer = delay(graceMs).then(() => 'timeout');
  for (const c of running) {
    if ((await Promise.race([c.exited, timer])) === 'timeout' && isRunning(c)) {
      fail(`the ${c.name} did not stop within ${graceMs} ms; killing it`);
      c.child.kill('SIGKILL');
      await c.exited;
    }
  }
}

function killAllNow() {
  for (const c of children) if (isRunning(c)) c.child.kill('SIGKILL');
}

async function main() {
  require('./ensure-installed.js').ensureInstalled();
  for (const [name, file] of [
    ['API', API_MAIN],
    ['worker', WORKER_MAIN],
  ]) {
    if (!fs.existsSync(file)) {
      fail(
        `${path.relative(ROOT, file)} is missing: build first (npm ci, or npm run build); the ${name} is needed`,
      );
      process.exit(1);
    }
  }

  // GOOSEHERD_MODEL: pull the weights before anything starts, in the foreground, so the download shows its
  // progress bar on this terminal (and Ctrl-C stops it; a later start resumes). The worker would pull too,
  // but only with log lines. Already pulled: the CLI returns at once.
  const catalogueModel = process.env.GOOSEHERD_MODEL;
  if (catalogueModel && fs.existsSync(CLI_MAIN)) {
    log(`GOOSEHERD_MODEL=${catalogueModel}: making sure it is pulled`);
    const pull = spawnSync(process.execPath, [CLI_BIN, 'model', 'pull', catalogueModel], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (pull.status !== 0) {
      fail(`could not pull ${catalogueModel} (see above); nothing was started`);
      process.exit(pull.status ?? 1);
    }
  }

  let redisUrl;
  try {
    redisUrl = new URL(REDIS_URL);
  } catch {
    fail(`REDIS_URL is not a URL: ${REDIS_URL}`);
    process.exit(1);
  }
  const redisHost = redisUrl.hostname || '127.0.0.1';
  const redisPort = Number(redisUrl.port || 6379);

  // Ctrl-C under `npm start` arrives twice at once (from the terminal and forwarded by npm): only a signal
  // a second or more after the first means "stop waiting for the drain".
  let firstSignalAt = 0;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      if (firstSignalAt === 0) {
        firstSignalAt = Date.now();
        log(`${sig}: shutting down (again to kill at once)`);
        void shutdown(0);
      } else if (Date.now() - firstSignalAt >= 1000) {
        fail('second signal: killing everything now');
        killAllNow();
        process.exit(130);
      }
    });
  }
  process.on('exit', killAllNow);

  if (await redisAnswers(redisHost, redisPort)) {
    log(`using the Redis at ${REDIS_URL}`);
  } else {
    if (!LOCAL_HOSTS.has(redisHost)) {
      fail(`nothing answers at ${REDIS_URL}, and a Redis can only be started here for a local address`);
      process.exit(1);
    }
    log(
      `nothing answers at ${REDIS_URL}: starting redis-server on port ${redisPort} (in memory, stopped on exit)`,
    );
    startChild(
      'redis-server',
      'redis-server',
      [
        '--port',
        String(redisPort),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--loglevel',
        'warning',
      ],
      process.env,
    );
    if (!(await waitUntil(() => redisAnswers(redisHost, redisPort), 10_000))) {
      fail(`redis-server did not answer PING on port ${redisPort} within 10 s`);
      return shutdown(1);
    }
  }

  const env = { ...process.env, REDIS_URL, PORT: String(PORT) };
  let keyWasGenerated = false;
  if (!env.GOOSEHERD_API_KEY) {
    env.GOOSEHERD_API_KEY = `gh_${crypto.randomBytes(32).toString('base64url')}`;
    keyWasGenerated = true;
  }

  startChild('API', process.execPath, [API_MAIN], env);
  startChild('worker', process.execPath, [WORKER_MAIN], env);

  const readyUrl = `http://127.0.0.1:${PORT}/readyz`;
  const ready = await waitUntil(async () => {
    if (stopping) return true;
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(2000) });
      return res.status === 200;
    } catch {
      return false;
    }
  }, READY_TIMEOUT_MS);
  if (stopping) return;
  if (!ready) {
    fail(`the API did not answer 200 on ${readyUrl} within ${READY_TIMEOUT_MS} ms`);
    return shutdown(1);
  }

  const url = `http://localhost:${PORT}`;
  const key = env.GOOSEHERD_API_KEY;
  const auth = `-H "Authorization: Bearer ${key}"`;
  const json = `-H 'Content-Type: application/json'`;
  process.stdout.write(
    [
      '',
      `Gooseherd is ready at ${url}  (API docs: ${url}/docs)`,
      `API key${keyWasGenerated ? ' (generated for this run, valid only while it runs; set GOOSEHERD_API_KEY to choose one)' : ''}:`,
      `  ${key}`,
      '',
      'Try it:',
      `  export GH_KEY=${key}`,
      `  AGENT=$(curl -s ${json} -H "Authorization: Bearer $GH_KEY" -d '{}' ${url}/v1/agents | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')`,
      `  TASK=$(curl -s ${json} -H "Authorization: Bearer $GH_KEY" -d '{"input":"Hello, goose.","maxTokens":32}' ${url}/v1/agents/$AGENT/tasks | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')`,
      `  curl -N -H "Authorization: Bearer $GH_KEY" ${url}/v1/tasks/$TASK/events`,
      '',
      `or in one line:  curl -s ${auth} ${url}/v1/agents`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  fail(err && err.stack ? err.stack : String(err));
  void shutdown(1);
});
