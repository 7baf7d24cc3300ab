import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApiClient, freePort, ManagedProcess } from '@gooseherd/test-kit';

/**
 * `GOOSEHERD_MODEL=<catalogue name> npm start` with no other model setting: start.js pulls the weights and
 * the World vocabulary from a (local, Hugging Face-style) server, then the worker serves them and a task
 * completes on that model.
 */
const ROOT = path.resolve(__dirname, '../..');
const FIXTURES = process.env.GOOSEHERD_FIXTURES ?? path.resolve(ROOT, '../shared/fixtures/rwkv7');
const haveFixtures = fs.existsSync(path.join(FIXTURES, 'rwkv_vocab_v20230424.txt'));

(haveFixtures ? describe : describe.skip)('GOOSEHERD_MODEL=<name> npm start', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-e2e-pull-start-'));
  const requests: string[] = [];
  const files: Record<string, string> = {
    '/test-org/tiny/resolve/main/rwkv7-tiny-A.safetensors': path.join(FIXTURES, 'rwkv7-tiny-A.safetensors'),
    '/RWKV/v5-Eagle-7B-HF/resolve/main/rwkv_vocab_v20230424.txt': path.join(
      FIXTURES,
      'rwkv_vocab_v20230424.txt',
    ),
  };
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = files[req.url ?? ''];
    if (!file) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  let start: ManagedProcess | undefined;

  afterAll(async () => {
    await start?.stop(30_000);
    await new Promise((resolve) => server.close(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pulls on first start, then serves the pulled model by its catalogue name', async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const catalogue = path.join(dir, 'catalogue.json');
    fs.writeFileSync(
      catalogue,
      JSON.stringify({
        models: [{ name: 'tiny-world', repo: 'test-org/tiny', file: 'rwkv7-tiny-A.safetensors' }],
      }),
    );
    const [port, redisPort] = [await freePort(), await freePort()];
    const apiKey = 'e2e-pull-start-key-0123456789';
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GOOSEHERD_MODEL: 'tiny-world',
      GOOSEHERD_MODEL_CATALOGUE: catalogue,
      GOOSEHERD_HF_ENDPOINT: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      GOOSEHERD_DATA_DIR: path.join(dir, 'data'),
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: String(port),
      GOOSEHERD_API_KEY: apiKey,
      GOOSEHERD_ENGINE_THREADS: '1',
      GOOSEHERD_DRAIN_MS: '2000',
      LOG_LEVEL: 'info',
    };
    delete env.GOOSEHERD_MODEL_PATH;
    delete env.GOOSEHERD_VOCAB_PATH;
    delete env.GOOSEHERD_MODEL_NAME;
    const logPath = path.join(dir, 'start.log');
    start = ManagedProcess.spawn('npm start', process.execPath, [path.join(ROOT, 'scripts/start.js')], {
      env,
      logPath,
      cwd: ROOT,
    });
    const deadline = Date.now() + 180_000;
    while (!fs.readFileSync(logPath, 'utf8').includes('Gooseherd is ready at')) {
      if (!start.running || Date.now() > deadline)
        throw new Error(`npm start did not get ready:\n${start.tail()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const log = fs.readFileSync(logPath, 'utf8');
    expect(log).toMatch(/GOOSEHERD_MODEL=tiny-world: making sure it is pulled/);
    expect(log).toMatch(/pulled tiny-world: .*rwkv7-tiny-A\.safetensors .*verified by first-use/);
    expect(requests.sort()).toEqual(Object.keys(files).sort());

    const api = new ApiClient(`http://127.0.0.1:${port}`, apiKey);
    const agent = await api.createAgent({ model: 'tiny-world' });
    const accepted = await api.submitTask(agent.id, { input: 'Hello', maxTokens: 4 });
    const task = await api.waitForSuccess(accepted.id, 120_000);
    expect(task.status).toBe('succeeded');
    expect(requests.length).toBe(2); // the worker found the pulled files and downloaded nothing more
    // …and serves them, not the embedded model: its "model loaded" line names the pulled file.
    expect(fs.readFileSync(logPath, 'utf8')).toMatch(
      /tiny-world: RWKV-7 tiny-world from \S*rwkv7-tiny-A\.safetensors/,
    );
  });
});
