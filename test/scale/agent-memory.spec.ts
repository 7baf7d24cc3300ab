import { EventSocket, useCluster } from '@gooseherd/test-kit';
import { measureContextGrowth } from './agent-footprint';

// An agent's Redis footprint does not grow with its context: from ~1k to ~100k tokens read, its record
// (hash), state blob and mailbox take the same bytes, and a short task decodes as fast. The full measurement,
// to ~1M tokens, is `npm run bench:scale -- --memory-only` (test/scale/README.md).

describe('agent memory at scale', () => {
  const cluster = useCluster({ workers: 1, leaseMs: 10_000 });

  it('keeps an agent at a constant number of bytes in Redis from 1k to 100k tokens of context', async () => {
    const c = cluster();
    const socket = await EventSocket.open(c.wsUrl, c.keys.alice);
    const lines: string[] = [];
    try {
      const growth = await measureContextGrowth(c, c.alice, socket, {
        targets: [1_000, 100_000],
        decodeTokens: 64,
        decodeRepeats: 1,
        interleavedRounds: 8,
        feedTimeoutMs: 120_000,
        log: (line) => lines.push(line),
      });
      const [early, late] = growth.points.map((p) => p.footprint);
      expect(early.tokensSeen).toBeGreaterThanOrEqual(900);
      expect(early.tokensSeen).toBeLessThan(2_000);
      expect(late.tokensSeen).toBeGreaterThanOrEqual(99_000);

      // The state blob is the same size whatever the agent has read; the record differs by a few digits.
      expect(late.stateBlobLength).toBe(early.stateBlobLength);
      expect(late.stateBytes).toBe(early.stateBytes);
      expect(Math.abs(late.hashBytes - early.hashBytes)).toBeLessThanOrEqual(256);
      expect(late.agentBytes - early.agentBytes).toBeLessThanOrEqual(256);
      // Idle: no waiting task ids (Redis drops the empty list).
      expect([early.mailboxBytes, late.mailboxBytes]).toEqual([0, 0]);
      // Decoding is not slower after 100× the context: the two agents sampled alternately (generous bound, as
      // the machine is shared).
      expect(growth.interleaved!.ratio).toBeLessThan(2.5);
      process.stdout.write(`agent memory:\n  ${lines.join('\n  ')}\n`);
    } finally {
      await socket.close();
    }
  });
});
