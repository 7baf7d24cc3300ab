import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  DeadlineError,
  ManagedProcess,
  PrivateRedis,
  redisAnswersPing,
  StopWaiting,
  waitFor,
} from '@gooseherd/test-kit';

// The harness on its own (no API, no worker): what every other e2e file relies on.

describe('the e2e harness', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gooseherd-e2e-harness-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('waitFor', () => {
    it('returns the first value the probe gives, as soon as it gives it', async () => {
      const start = Date.now();
      let calls = 0;
      const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), {
        timeoutMs: 5_000,
        what: 'the third call',
        intervalMs: 20,
      });
      expect(value).toEqual({ calls: 3 });
      expect(Date.now() - start).toBeLessThan(1_000);
    });

    it('fails at its deadline, naming what it waited for and what it last saw', async () => {
      const start = Date.now();
      const wait = waitFor(
        (seen) => {
          seen({ status: 'running' });
          return false;
        },
        { timeoutMs: 300, what: 'a task that never finishes', intervalMs: 20 },
      );
      await expect(wait).rejects.toThrow(DeadlineError);
      await expect(wait).rejects.toThrow(
        'timed out after 300 ms waiting for a task that never finishes; last seen: {"status":"running"}',
      );
      const elapsed = Date.now() - start;
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(1_000);
    });

    it('treats a throwing probe as not yet, and reports its last error', async () => {
      await expect(
        waitFor(
          () => {
            throw new Error('ECONNREFUSED');
          },
          { timeoutMs: 100, what: 'the API' },
        ),
      ).rejects.toThrow('last seen: Error: ECONNREFUSED');
    });

    it('ends at once when the probe throws StopWaiting', async () => {
      const start = Date.now();
      await expect(
        waitFor(
          () => {
            throw new StopWaiting('the task failed; it will never succeed');
          },
          { timeoutMs: 5_000, what: 'success' },
        ),
      ).rejects.toThrow('the task failed; it will never succeed');
      expect(Date.now() - start).toBeLessThan(500);
    });
  });

  describe('a private Redis', () => {
    it('answers on a free port of its own and is gone after stop', async () => {
      const redis = await PrivateRedis.start({ dir: fs.mkdtempSync(path.join(dir, 'r-')) });
      try {
        expect(redis.port).not.toBe(6379);
        await redis.redis().set('probe', 'yes');
        expect(await redis.redis().get('probe')).toBe('yes');
        expect(await redis.scanKeys('pro*')).toEqual(['probe']);
        const [footprint] = await redis.keyFootprints(['probe']);
        expect(footprint).toMatchObject({ key: 'probe', type: 'string' });
        expect(footprint.bytes).toBeGreaterThan(0);
      } finally {
        await redis.stop();
      }
      expect(await redisAnswersPing(redis.port)).toBe(false);
    });

    it('answers nothing while paused and answers again once resumed', async () => {
      const redis = await PrivateRedis.start({ dir: fs.mkdtempSync(path.join(dir, 'r-')) });
      try {
        redis.pause();
        expect(await redisAnswersPing(redis.port, 300)).toBe(false);
        redis.resume();
        expect(await redisAnswersPing(redis.port, 2_000)).toBe(true);
      } finally {
        await redis.stop();
      }
    });

    it('keeps its data across a shutdown and a restart on the same port when persistent', async () => {
      const redis = await PrivateRedis.start({ dir: fs.mkdtempSync(path.join(dir, 'r-')), appendOnly: true });
      try {
        await redis.redis().set('survivor', '1');
        const port = redis.port;
        await redis.shutdown();
        expect(await redisAnswersPing(port)).toBe(false);
        await redis.restart();
        expect(redis.port).toBe(port);
        expect(await redis.redis().get('survivor')).toBe('1');
      } finally {
        await redis.stop();
      }
    });
  });

  describe('a managed process', () => {
    it('writes its output to its log and reports how it exited', async () => {
      const logPath = path.join(dir, 'sleeper.log');
      const proc = ManagedProcess.spawn(
        'sleeper',
        process.execPath,
        ['-e', 'console.log("hello from the child"); setInterval(() => {}, 1000)'],
        { env: process.env, logPath },
      );
      await waitFor(() => proc.tail().includes('hello from the child'), {
        timeoutMs: 10_000,
        what: 'the greeting',
      });
      proc.kill('SIGSTOP');
      proc.kill('SIGCONT');
      expect(proc.running).toBe(true);
      proc.kill('SIGKILL');
      expect(await proc.waitForExit(5_000)).toEqual({ code: null, signal: 'SIGKILL' });
      expect(proc.describe()).toContain('exited (SIGKILL)');
    });

    it('is stopped by SIGTERM, or killed when it ignores SIGTERM past the grace', async () => {
      const stubborn = ManagedProcess.spawn(
        'stubborn',
        process.execPath,
        ['-e', 'process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'],
        { env: process.env, logPath: path.join(dir, 'stubborn.log') },
      );
      await waitFor(() => stubborn.tail().includes('up'), {
        timeoutMs: 10_000,
        what: 'the child to install its handler',
      });
      const start = Date.now();
      expect(await stubborn.stop(300)).toEqual({ code: null, signal: 'SIGKILL' });
      expect(Date.now() - start).toBeLessThan(3_000);
    });
  });
});
