import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import type { AgentSegmentJob } from '@gooseherd/contracts';
import { createSegmentConsumer, retryDelayMs, SegmentQueue } from './segment-queue.js';

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
    const consumer = createSegmentConsumer(
      connection,
      { prefix, concurrency: 1, lockMs: 5000 },
      async (j, lock) => {
        order.push(j.agentId);
        locksHeld.push(lock !== undefined && (await redis.get(lock.key)) === lock.token);
      },
    );
    void consumer.run();
    const deadline = Date.now() + 10_000;
    while (order.length < 7 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await consumer.close();
    connection.disconnect();
    expect(order.slice(0, 2)).toEqual(['agt_a', 'agt_light']);
    expect(order.slice(2)).toEqual(['agt_heavy0', 'agt_heavy1', 'agt_heavy2', 'agt_heavy3', 'agt_heavy4']);
    expect(await queue.waitingCount()).toBe(0);
    expect(locksHeld).toEqual(order.map(() => true)); // each run is told its job's real lock
  });

  it('backs off retries from half a second to at most 30 s', () => {
    expect([0, 1, 2, 3].map(retryDelayMs)).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs(40)).toBe(30_000);
  });
});
