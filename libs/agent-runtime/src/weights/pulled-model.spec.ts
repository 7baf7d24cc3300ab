import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModel } from '../model-loader.js';
import { WorldTextTokenizer } from '../text-tokenizer.js';
import { fixtureDir, TEST_DATA_DIR } from '../testing/test-model.js';
import { WORLD_VOCAB } from './catalogue.js';
import { findPulled } from './model-store.js';

/**
 * GOOSEHERD_MODEL=<catalogue name>: the worker's model loading pulls the weights and the World vocabulary
 * from a (local, Hugging Face-style) server on first start, then serves them; a second start downloads nothing.
 */
const dir = fixtureDir();

(dir ? describe : describe.skip)('loadModel({ catalogueModel })', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-pulled-'));
  const requests: string[] = [];
  const files: Record<string, string> = {
    '/test-org/tiny/resolve/main/rwkv7-tiny-A.safetensors': path.join(dir!, 'rwkv7-tiny-A.safetensors'),
    // The catalogue's own vocabulary entry, with its pinned SHA-256, served from the shared fixture.
    [`/${WORLD_VOCAB.repo}/resolve/main/${WORLD_VOCAB.file}`]: path.join(dir!, WORLD_VOCAB.file),
  };
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = files[req.url ?? ''];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  const catalogue = path.join(work, 'catalogue.json');
  let endpoint = '';

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fs.writeFileSync(
      catalogue,
      JSON.stringify({
        models: [{ name: 'tiny-world', repo: 'test-org/tiny', file: 'rwkv7-tiny-A.safetensors' }],
      }),
    );
    process.env.GOOSEHERD_MODEL_CATALOGUE = catalogue;
  });
  afterAll(async () => {
    delete process.env.GOOSEHERD_MODEL_CATALOGUE;
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('pulls on first start and serves the model with the World tokenizer; the next start reuses the files', async () => {
    const dataDir = path.join(work, 'data');
    const opts = {
      catalogueModel: 'tiny-world',
      modelName: 'tiny-world',
      dataDir,
      cacheDir: path.join(TEST_DATA_DIR, 'cache'),
      threads: 1,
      pull: { endpoint },
    };
    const first = await loadModel(opts);
    await first.engine.release();
    expect(first.tokenizer).toBeInstanceOf(WorldTextTokenizer);
    expect(first.tokenizer.vocabSize).toBe(65530);
    expect(first.describe).toMatch(/tiny-world from .*rwkv7-tiny-A\.safetensors/);
    expect(findPulled(dataDir, 'tiny-world')?.record.vocab).toEqual({
      file: WORLD_VOCAB.file,
      sha256: WORLD_VOCAB.sha256,
    });
    expect(requests.sort()).toEqual(Object.keys(files).sort());

    const second = await loadModel(opts);
    await second.engine.release();
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(requests.length).toBe(2);
  });
});
