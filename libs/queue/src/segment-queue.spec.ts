import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { AgentSegmentJob } from '@gooseherd/contracts';
import { SegmentConsumer, segmentLockKey } from './segment-consumer.js';
import { retryDelayMs, SegmentQueue, segmentJobId, STACK_TRACES_KEPT } from './segment-queue.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `ghtest-queue-${randomBytes(4).toString('hex')}`;
let redis: Redis;
let queue: SegmentQueue;

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new SegmentQueue(redis, { prefix });
});

afterAll(async () => {
  await queue.queue.obliterate({ force: true });
  await queue.close();
  await redis.quit();
});

const job = (agentId: string, seq: number, priority: number): AgentSegmentJob => ({
  agentId,
  tenantId: 't',
  seq,
  priority,
});

describe('SegmentQueue', () => {
  it('adds a segment once however often it is enqueued', async () => {
    await queue.enqueue(job('agt_a', 1, 1));
    await queue.enqueue(job('agt_a', 1, 1));
    expect(await queue.waitingCount()).toBe(1);
    expect(await queue.exists(job('agt_a', 1, 1))).toBe(true);
    expect(await queue.exists(job('agt_a', 2, 1))).toBe(false);
  });

  it('hands out a low-priority-number (light tenant) segment before a deep backlog', async () => {
    for (let i = 0; i < 5; i++) await queue.enqueue(job(`agt_heavy${i}`, 1, 6 + i));
    await queue.enqueue(job('agt_light', 1, 2));
    const order: string[] = [];
    const locksHeld: boolean[] = [];
    const connection = redis.duplicate();
    const consumer = new SegmentConsumer(
      connection,
      { prefix, concurrency: 1, lockMs: 5000 },
      async ({ job: j, lock }) => {
        order.push(j.agentId);
        locksHeld.push(lock !== undefined && (await redis.get(lock.key)) === lock.token);
      },
    );
    consumer.start();
    const deadline = Date.now() + 10_000;
    while (order.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await consumer.close();
    connection.disconnect();
    expect(order.slice(0, 2)).toEqual(['agt_a', 'agt_light']);
    expect(order.slice(2)).toEqual(['agt_heavy0', 'agt_heavy1', 'agt_heavy2', 'agt_heavy3', 'agt_heavy4']);
    expect(await queue.waitingCount()).toBe(0);
    expect(locksHeld).toEqual(order.map(() => true)); // each run is told its job's real lock
  });

  it('names the lock key BullMQ itself writes for a running job, and tells a run whether it still holds it', async () => {
    const segment = job('agt_lock', 1, 1);
    await queue.enqueue(segment);
    const connection = redis.duplicate();
    let seen:
      { written: string[]; lock?: { key: string; token: string }; held: boolean; lost: boolean } | undefined;
    const consumer = new SegmentConsumer(
      connection,
      { prefix, concurrency: 1, lockMs: 5000 },
      async (run) => {
        // Every lock key BullMQ has written under this queue's prefix while this job runs.
        const written = await redis.keys(`${prefix}:*:lock`);
        const held = await run.holdsLease();
        await redis.set(run.lock!.key, 'another-run');
        seen = { written, lock: run.lock, held, lost: !(await run.holdsLease()) };
        await redis.set(run.lock!.key, run.lock!.token);
      },
    );
    consumer.start();
    const deadline = Date.now() + 10_000;
    while (!seen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await consumer.drain();
    connection.disconnect();
    expect(seen?.written).toEqual([segmentLockKey(prefix, segmentJobId(segment))]);
    expect(seen?.lock?.key).toBe(segmentLockKey(prefix, segmentJobId(segment)));
    expect(seen?.held).toBe(true);
    expect(seen?.lost).toBe(true);
  });

  it('keeps the last few stack traces of a segment that keeps failing', async () => {
    const segment = job('agt_failing', 1, 1);
    await queue.enqueue(segment);
    const connection = redis.duplicate();
    let runs = 0;
    const consumer = new SegmentConsumer(connection, { prefix, concurrency: 1, lockMs: 5000 }, async () => {
      runs++;
      throw new Error(`attempt ${runs}`);
    });
    const bullJob = await queue.queue.getJob(segmentJobId(segment));
    // Retry at once instead of after the backoff, so the test sees many failures quickly.
    consumer.start();
    const deadline = Date.now() + 20_000;
    while (runs < STACK_TRACES_KEPT + 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      const state = await queue.queue.getJobState(segmentJobId(segment));
      if (state === 'delayed') await bullJob!.promote().catch(() => undefined);
    }
    await consumer.close();
    connection.disconnect();
    const after = await queue.queue.getJob(segmentJobId(segment));
    expect(runs).toBeGreaterThanOrEqual(STACK_TRACES_KEPT + 2);
    expect(after?.stacktrace?.length).toBe(STACK_TRACES_KEPT);
  });

  it('backs off retries from half a second to at most 30 s', () => {
    expect([0, 1, 2, 3].map(retryDelayMs)).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs(40)).toBe(30_000);
  });
});
