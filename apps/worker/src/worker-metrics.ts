import * as http from 'node:http';
import type { DecoderObserver } from '@gooseherd/agent-runtime';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** How a segment ended, as the segment-latency histogram labels it: returned, or threw (retried). */
export type SegmentOutcome = 'ended' | 'threw';

/**
 * The worker's Prometheus metrics, in a registry of its own. Rates (tokens/s, checkpoint bytes/s) are the
 * counters' `rate()`; the decoder reports every engine run through `decoderObserver`.
 */
export class WorkerMetrics {
  readonly registry = new Registry();

  readonly tokensGenerated = new Counter({
    name: 'gooseherd_worker_tokens_generated_total',
    help: 'Tokens generated (sampled) by this worker; rate() is tokens/s',
    registers: [this.registry],
  });
  readonly promptTokens = new Counter({
    name: 'gooseherd_worker_prompt_tokens_total',
    help: 'Prompt and replayed tokens fed to the engine by prefill',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'gooseherd_worker_batch_size',
    help: 'Agents advanced by one batched decode step',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly engineStep = new Histogram({
    name: 'gooseherd_worker_engine_step_seconds',
    help: 'Time of one engine run, by kind (a batched decode step, or a batched prefill chunk)',
    labelNames: ['kind'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  readonly segmentSeconds = new Histogram({
    name: 'gooseherd_worker_segment_seconds',
    help: 'Time from a segment taking its agent to its end; outcome ended (finished, yielded, failed) or threw (retried)',
    labelNames: ['outcome'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });
  readonly checkpointBytes = new Counter({
    name: 'gooseherd_worker_checkpoint_bytes_total',
    help: 'State bytes written by checkpoints (periodic, yield, final); rate() is checkpoint bytes/s',
    registers: [this.registry],
  });
  readonly checkpoints = new Counter({
    name: 'gooseherd_worker_checkpoints_total',
    help: 'State checkpoints written',
    registers: [this.registry],
  });
  readonly segmentsRunning = new Gauge({
    name: 'gooseherd_worker_segments_running',
    help: 'Segments this worker is running now',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gooseherd_worker_' });
  }

  readonly decoderObserver: DecoderObserver = {
    step: (batchSize, seconds) => {
      this.batchSize.observe(batchSize);
      this.engineStep.observe({ kind: 'step' }, seconds);
    },
    prefill: (_prompts, tokens, seconds) => {
      this.promptTokens.inc(tokens);
      this.engineStep.observe({ kind: 'prefill' }, seconds);
    },
  };

  segmentEnded(outcome: SegmentOutcome, seconds: number): void {
    this.segmentSeconds.observe({ outcome }, seconds);
  }

  checkpointWritten(bytes: number): void {
    this.checkpoints.inc();
    this.checkpointBytes.inc(bytes);
  }
}

/**
 * Serves `GET /metrics` (and nothing else) on `port`; resolves with the server once it listens. One small
 * server per worker: the worker has no HTTP API of its own.
 */
export async function serveMetrics(metrics: WorkerMetrics, port: number, host: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
    );
  });
  // Scrapers keep connections open; they must not hold the worker's drain.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
