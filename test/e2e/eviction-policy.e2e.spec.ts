import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  API_MAIN,
  freePort,
  ManagedProcess,
  PrivateRedis,
  REPO_ROOT,
  SHARED_DATA_DIR,
  WORKER_MAIN,
} from '@gooseherd/test-kit';

// A Redis that evicts keys under memory pressure would silently drop agents' state and queued work, so the API
// and the workers refuse to start against one, naming the setting (issue 9 §8).

describe('against a Redis whose maxmemory-policy is not noeviction', () => {
  let dir: string;
  let redis: PrivateRedis;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-eviction-'));
    redis = await PrivateRedis.start({ dir, args: ['--maxmemory-policy', 'allkeys-lru'] });
  });

  afterAll(async () => {
    await redis?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(name: string, main: string) {
    const inherited = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !/^(GOOSEHERD_|REDIS_URL$|PORT$|HOST$)/.test(key)),
    );
    const proc = ManagedProcess.spawn(name, process.execPath, [main], {
      cwd: REPO_ROOT,
      env: {
        ...inherited,
        REDIS_URL: redis.url,
        GOOSEHERD_REDIS_PREFIX: 'gh-eviction',
        GOOSEHERD_API_KEY: randomBytes(24).toString('base64url'),
        GOOSEHERD_DATA_DIR: SHARED_DATA_DIR,
        GOOSEHERD_ENGINE_THREADS: '1',
        PORT: String(await freePort()),
        HOST: '127.0.0.1',
      },
      logPath: path.join(dir, `${name}.log`),
    });
    try {
      return { exit: await proc.waitForExit(30_000), log: proc.tail(20) };
    } finally {
      proc.killNow();
    }
  }

  it.each([
    ['api', API_MAIN],
    ['worker', WORKER_MAIN],
  ])('the %s exits non-zero, naming maxmemory-policy and the policy it found', async (name, main) => {
    const { exit, log } = await start(name, main);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(log).toMatch(/maxmemory-policy is 'allkeys-lru'.*needs 'noeviction'/);
  });

  it('writes nothing to that Redis', async () => {
    expect(await redis.scanKeys('*')).toEqual([]);
  });
});
