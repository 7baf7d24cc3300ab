import { exactLengthTask, freePort, useCluster } from '@gooseherd/test-kit';

// Operators see the fleet: each worker serves Prometheus metrics on GOOSEHERD_WORKER_METRICS_PORT, scraped
// here over real HTTP from the real worker process.

/** `name{labels} value` samples of a Prometheus text exposition, summed over label sets matching `labels`. */
function sample(text: string, name: string, labels = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name || !(match[2] ?? '').includes(labels)) continue;
    sum += Number(match[3]);
    found = true;
  }
  if (!found)
    throw new Error(`no sample ${name}${labels ? ` with ${labels}` : ''} in:\n${text.slice(0, 2000)}`);
  return sum;
}

describe('worker metrics', () => {
  let port = 0;
  // Before the cluster starts (hooks run in order): the worker reads the port from its environment.
  beforeAll(async () => {
    port = await freePort();
  });
  const cluster = useCluster({
    workers: 1,
    checkpointTokens: 16,
    env: {
      get GOOSEHERD_WORKER_METRICS_PORT() {
        return String(port);
      },
    } as Record<string, string>,
  });

  async function scrape(): Promise<{ status: number; type: string; text: string }> {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  }

  it('counts generated tokens, batch sizes, engine steps, segments and checkpoint bytes of real work', async () => {
    const c = cluster();
    const before = await scrape();
    expect(before.status).toBe(200);
    expect(before.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const tokensBefore = sample(before.text, 'gooseherd_worker_tokens_generated_total');

    const agents = await Promise.all([c.alice.createAgent(), c.alice.createAgent(), c.alice.createAgent()]);
    const tasks = await Promise.all(agents.map((a) => c.alice.submitTask(a.id, exactLengthTask(64))));
    const done = await Promise.all(tasks.map((t) => c.alice.waitForSuccess(t.id, 60_000)));

    const { text } = await scrape();
    const generated = sample(text, 'gooseherd_worker_tokens_generated_total') - tokensBefore;
    expect(generated).toBe(done.reduce((n, t) => n + t.tokensOut, 0));
    // Prompts are prefilled but for their last token (the first decode step feeds it), and the turn's
    // closing tokens are stepped: prefill fed some of each task's tokensIn, never more.
    const prefilled = sample(text, 'gooseherd_worker_prompt_tokens_total');
    expect(prefilled).toBeGreaterThan(0);
    expect(prefilled).toBeLessThanOrEqual(done.reduce((n, t) => n + t.tokensIn, 0));
    // Every generated token came out of one batched step; three agents at once share steps.
    const steps = sample(text, 'gooseherd_worker_batch_size_count');
    expect(sample(text, 'gooseherd_worker_batch_size_sum')).toBeGreaterThanOrEqual(generated);
    expect(steps).toBeGreaterThan(0);
    expect(sample(text, 'gooseherd_worker_engine_step_seconds_count', 'kind="step"')).toBe(steps);
    expect(sample(text, 'gooseherd_worker_engine_step_seconds_sum', 'kind="step"')).toBeGreaterThan(0);
    expect(sample(text, 'gooseherd_worker_engine_step_seconds_count', 'kind="prefill"')).toBeGreaterThan(0);
    expect(sample(text, 'gooseherd_worker_segment_seconds_count', 'outcome="ended"')).toBeGreaterThanOrEqual(
      3,
    );
    // 64 tokens, a checkpoint every 16, plus the prompt's and the final one: at least 5 per task.
    expect(sample(text, 'gooseherd_worker_checkpoints_total')).toBeGreaterThanOrEqual(15);
    expect(sample(text, 'gooseherd_worker_checkpoint_bytes_total')).toBeGreaterThan(0);
    expect(sample(text, 'gooseherd_worker_segments_running')).toBe(0);
    expect(sample(text, 'gooseherd_worker_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('answers 404 for anything but GET /metrics', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/other`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(404);
  });
});
