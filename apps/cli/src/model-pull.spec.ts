import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * `gooseherd model pull | list | rm` run as the real compiled binary against a local HTTP server that serves
 * generated files under Hugging Face paths (`/<owner>/<repo>/resolve/main/<file>`) and honours Range.
 */
const BIN = path.resolve(__dirname, '../bin/gooseherd.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-pull-'));
const dataDir = path.join(work, 'data');
const models = path.join(dataDir, 'models');

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const weights = randomBytes(3 * 1024 * 1024 + 17);
const vocab = Buffer.from("1 'a' 1\n2 'b' 1\n");
/** Served as `cut.pth`: the first request without a Range is cut after this many bytes. */
const CUT_AT = 1024 * 1024;

interface Served {
  path: string;
  range?: string;
  status: number;
}
const served: Served[] = [];
const stalled: http.ServerResponse[] = [];
const files: Record<string, Buffer> = {
  '/test-org/weights/resolve/main/fixture.pth': weights,
  '/test-org/weights/resolve/main/cut.pth': weights,
  '/test-org/weights/resolve/main/etag.pth': weights,
  '/test-org/weights/resolve/main/stall.pth': weights,
  '/test-org/weights/resolve/main/twin.pth': weights,
  '/test-org/weights/resolve/main/norange.pth': weights,
  '/test-org/vocab/resolve/main/vocab.txt': vocab,
};

const TOKEN = 'hf_test_token_0123456789';
/** A second origin, like Hugging Face's CDN: gated.pth redirects here; it records the headers it gets. */
const cdnRequests: http.IncomingHttpHeaders[] = [];
const cdn = http.createServer((req, res) => {
  cdnRequests.push(req.headers);
  res.writeHead(200, { 'content-length': weights.length }).end(weights);
});

const server = http.createServer((req, res) => {
  const url = req.url ?? '';
  if (url === '/test-org/gated/resolve/main/gated.pth') {
    served.push({ path: url, range: req.headers.range, status: 302 });
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
    const { port } = cdn.address() as AddressInfo;
    res.writeHead(302, {
      location: `http://127.0.0.1:${port}/cdn/gated.pth`,
      'x-linked-etag': `"${sha256(weights)}"`,
    });
    return void res.end();
  }
  const body = files[url];
  const entry: Served = { path: url, range: req.headers.range, status: 200 };
  served.push(entry);
  if (!body) {
    entry.status = 404;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Entry not found');
    return;
  }
  if (url.endsWith('/etag.pth')) res.setHeader('x-linked-etag', `"${sha256(body)}"`);
  // norange.pth: a server (or mirror) that ignores Range and always sends the whole file.
  const match = url.endsWith('/norange.pth') ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (match) {
    const start = Number(match[1]);
    entry.status = 206;
    res.writeHead(206, {
      'content-length': body.length - start,
      'content-range': `bytes ${start}-${body.length - 1}/${body.length}`,
    });
    res.end(body.subarray(start));
    return;
  }
  if (url.endsWith('/twin.pth')) {
    // Answered slowly, so that two concurrent pulls overlap.
    setTimeout(() => res.writeHead(200, { 'content-length': body.length }).end(body), 1000);
    return;
  }
  res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
  if (url.endsWith('/stall.pth')) {
    // Sends a third, then nothing: the client process is killed while it waits.
    stalled.push(res);
    return void res.write(body.subarray(0, CUT_AT));
  }
  if (url.endsWith('/cut.pth') && served.filter((s) => s.path === url).length === 1) {
    // The first download of cut.pth loses its connection a third of the way in.
    res.write(body.subarray(0, CUT_AT), () => res.socket?.destroy());
    return;
  }
  res.end(body);
});

const catalogueFile = path.join(work, 'catalogue.json');
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => cdn.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const vocabEntry = { repo: 'test-org/vocab', file: 'vocab.txt', sha256: sha256(vocab) };
  const entry = (name: string, file: string, sum?: string) => ({
    name,
    repo: 'test-org/weights',
    file,
    ...(sum ? { sha256: sum } : {}),
    vocab: vocabEntry,
  });
  fs.writeFileSync(
    catalogueFile,
    JSON.stringify({
      models: [
        entry('fixture-model', 'fixture.pth', sha256(weights)),
        entry('cut-model', 'cut.pth', sha256(weights)),
        entry('etag-model', 'etag.pth'),
        entry('wrong-sum', 'fixture.pth', 'ab'.repeat(32)),
        entry('missing-model', 'missing.pth', 'cd'.repeat(32)),
        { ...entry('gated-model', 'gated.pth'), repo: 'test-org/gated' },
        entry('stall-model', 'stall.pth', sha256(weights)),
        entry('twin-model', 'twin.pth', sha256(weights)),
        entry('norange-model', 'norange.pth', sha256(weights)),
      ],
    }),
  );
  env = {
    ...process.env,
    GOOSEHERD_DATA_DIR: dataDir,
    GOOSEHERD_HF_ENDPOINT: `http://127.0.0.1:${port}`,
    GOOSEHERD_MODEL_CATALOGUE: catalogueFile,
  };
});

afterAll(async () => {
  for (const res of stalled) res.destroy();
  await new Promise((resolve) => server.close(resolve));
  await new Promise((resolve) => cdn.close(resolve));
  fs.rmSync(work, { recursive: true, force: true });
});

/** The binary as a child process (async: the server answers from this same event loop). */
function gooseherd(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return gooseherdWith({}, ...args);
}

function gooseherdWith(
  extraEnv: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...env, ...extraEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!);

describe('gooseherd model pull | list | rm', () => {
  it('prints help for each command', async () => {
    for (const command of ['pull', 'list', 'rm']) {
      const r = await gooseherd('model', command, '--help');
      expect({ command, code: r.code }).toEqual({ command, code: 0 });
      expect(r.stdout).toMatch(new RegExp(`Usage: gooseherd model ${command}`));
    }
  });

  it('pulls a model and its vocabulary, verified, into $GOOSEHERD_DATA_DIR/models', async () => {
    const r = await gooseherd('model', 'pull', 'fixture-model', '--json');
    expect(r.code).toBe(0);
    const out = lastJson(r.stdout);
    expect(out).toMatchObject({ ok: true, downloaded: true, name: 'fixture-model', verifiedBy: 'catalogue' });
    expect(fs.readFileSync(path.join(models, 'fixture.pth')).equals(weights)).toBe(true);
    expect(fs.readFileSync(path.join(models, 'vocab.txt')).equals(vocab)).toBe(true);
    expect(fs.readdirSync(models).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(r.stderr).toBe(''); // no progress bar when stderr is not a terminal

    const again = await gooseherd('model', 'pull', 'fixture-model', '--json');
    expect(again.code).toBe(0);
    expect(lastJson(again.stdout)).toMatchObject({ ok: true, downloaded: false });
  });

  it('resumes a download whose connection was cut, with a Range request, to a byte-identical file', async () => {
    const r = await gooseherd('model', 'pull', 'cut-model');
    expect({ code: r.code, stderr: r.stderr }).toEqual({
      code: 0,
      stderr: expect.stringMatching(/retry 1\//),
    });
    const requests = served.filter((s) => s.path.endsWith('/cut.pth'));
    expect(requests.map((q) => q.status)).toEqual([200, 206]);
    expect(requests[0]!.range).toBeUndefined();
    // The resume starts where the bytes that reached the disk end: after some, at most all that were sent
    // before the cut (a destroyed socket may drop the last of them in flight).
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(requests[1]!.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(CUT_AT);
    expect(fs.readFileSync(path.join(models, 'cut.pth')).equals(weights)).toBe(true);
  });

  it('resumes, in a new run, the .part a killed run left behind', async () => {
    const child = spawn(process.execPath, [BIN, 'model', 'pull', 'stall-model'], { env, stdio: 'ignore' });
    const part = path.join(models, 'stall.pth.part');
    const deadline = Date.now() + 20_000;
    while (!(fs.existsSync(part) && fs.statSync(part).size > 0)) {
      if (Date.now() > deadline) throw new Error('no .part appeared');
      await new Promise((r) => setTimeout(r, 50));
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    const kept = fs.statSync(part).size;
    expect(kept).toBeGreaterThan(0);

    const r = await gooseherd('model', 'pull', 'stall-model');
    expect(r.code).toBe(0);
    const resumed = served.filter((s) => s.path.endsWith('/stall.pth'));
    expect(resumed.map((q) => [q.status, q.range])).toEqual([
      [200, undefined],
      [206, `bytes=${kept}-`],
    ]);
    expect(fs.readFileSync(path.join(models, 'stall.pth')).equals(weights)).toBe(true);
    expect(fs.existsSync(part)).toBe(false);
  });

  it('starts from zero when the server ignores the Range of a resume (200, not 206)', async () => {
    fs.writeFileSync(path.join(models, 'norange.pth.part'), randomBytes(1000));
    const r = await gooseherd('model', 'pull', 'norange-model');
    expect(r.code).toBe(0);
    expect(served.filter((s) => s.path.endsWith('/norange.pth')).map((q) => [q.status, q.range])).toEqual([
      [200, 'bytes=1000-'],
    ]);
    expect(fs.readFileSync(path.join(models, 'norange.pth')).equals(weights)).toBe(true);
  });

  it('downloads once when two processes pull the same model at the same time', async () => {
    const [a, b] = await Promise.all([
      gooseherd('model', 'pull', 'twin-model', '--json'),
      gooseherd('model', 'pull', 'twin-model', '--json'),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([lastJson(a.stdout).downloaded, lastJson(b.stdout).downloaded].sort()).toEqual([false, true]);
    expect(a.stderr + b.stderr).toMatch(/another process is pulling this file .*twin\.pth\.lock/);
    expect(served.filter((s) => s.path.endsWith('/twin.pth'))).toHaveLength(1);
    expect(fs.readFileSync(path.join(models, 'twin.pth')).equals(weights)).toBe(true);
    expect(fs.existsSync(path.join(models, 'twin.pth.lock'))).toBe(false);
  });

  it('names the path and exits 5 when the models folder cannot be written', async () => {
    const blocked = path.join(work, 'blocked');
    fs.mkdirSync(blocked);
    fs.writeFileSync(path.join(blocked, 'models'), 'a file, not a folder');
    const r = await gooseherdWith(
      { GOOSEHERD_DATA_DIR: blocked },
      'model',
      'pull',
      'fixture-model',
      '--json',
    );
    expect(r.code).toBe(5);
    expect(lastJson(r.stdout)).toMatchObject({ ok: false, error: 'disk' });
    expect(r.stderr).toMatch(/blocked\/models: cannot write: a file is in the way where a folder is needed/);
  });

  it("verifies a file the catalogue has no checksum for against the server's X-Linked-Etag", async () => {
    const r = await gooseherd('model', 'pull', 'etag-model', '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ verifiedBy: 'server-etag', sha256: sha256(weights) });
  });

  it('refuses a file whose checksum is wrong and removes the partial download', async () => {
    fs.rmSync(path.join(models, 'fixture.pth'));
    fs.rmSync(path.join(models, 'fixture.pth.pulled.json'));
    const r = await gooseherd('model', 'pull', 'wrong-sum', '--json');
    expect(r.code).toBe(4);
    expect(lastJson(r.stdout)).toMatchObject({ ok: false, error: 'checksum' });
    expect(r.stderr).toMatch(
      /model wrong-sum: fixture\.pth: SHA-256 mismatch \(expected abab.*got [0-9a-f]{64}\)/,
    );
    expect(fs.existsSync(path.join(models, 'fixture.pth'))).toBe(false);
    expect(fs.existsSync(path.join(models, 'fixture.pth.part'))).toBe(false);
  });

  it('explains a 404 with the model name and the URL', async () => {
    const r = await gooseherd('model', 'pull', 'missing-model');
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /^gooseherd: model missing-model: missing\.pth not found at http:\/\/127\.0\.0\.1:\d+\/test-org\/weights\/resolve\/main\/missing\.pth \(HTTP 404\)/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('sends GOOSEHERD_HF_TOKEN to a gated repository, not to the CDN it redirects to, and verifies by X-Linked-Etag', async () => {
    const refused = await gooseherd('model', 'pull', 'gated-model');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /model gated-model: .*HTTP 401: the repository test-org\/gated needs access; set GOOSEHERD_HF_TOKEN/,
    );

    const r = await gooseherdWith({ GOOSEHERD_HF_TOKEN: TOKEN }, 'model', 'pull', 'gated-model', '--json');
    expect(r.code).toBe(0);
    expect(lastJson(r.stdout)).toMatchObject({ verifiedBy: 'server-etag', sha256: sha256(weights) });
    expect(cdnRequests).toHaveLength(1);
    expect(cdnRequests[0]!.authorization).toBeUndefined();
    expect(fs.readFileSync(path.join(models, 'gated.pth')).equals(weights)).toBe(true);
  });

  it('refuses an unknown name with exit code 2 before any download', async () => {
    const before = served.length;
    const r = await gooseherd('model', 'pull', 'no-such-model');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown model 'no-such-model'; known: .*rwkv7-g1-0\.4b/);
    expect(served.length).toBe(before);
  });

  it('lists the catalogue with what is pulled, and rm deletes a pulled model', async () => {
    const list = await gooseherd('model', 'list', '--json');
    expect(list.code).toBe(0);
    const rows: { name: string; pulled: unknown }[] = lastJson(list.stdout).models;
    const pulledNames = rows.filter((m) => m.pulled).map((m) => m.name);
    expect(pulledNames.sort()).toEqual([
      'cut-model',
      'etag-model',
      'gated-model',
      'norange-model',
      'stall-model',
      'twin-model',
    ]);
    expect(rows.map((m) => m.name)).toEqual(expect.arrayContaining(['rwkv7-g1-0.4b', 'rwkv7-world-2.9b']));

    const rm = await gooseherd('model', 'rm', 'cut-model');
    expect(rm.code).toBe(0);
    expect(fs.existsSync(path.join(models, 'cut.pth'))).toBe(false);
    const after = await gooseherd('model', 'list', '--json');
    const stillPulled = lastJson(after.stdout).models.filter((m: { pulled: unknown }) => m.pulled);
    expect(stillPulled.map((m: { name: string }) => m.name)).toEqual([
      'etag-model',
      'gated-model',
      'stall-model',
      'twin-model',
      'norange-model',
    ]);

    const again = await gooseherd('model', 'rm', 'cut-model');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/cut-model is not pulled/);
  });
});
