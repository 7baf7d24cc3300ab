import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadEnv } from '@gooseherd/contracts';
import { checkRedisEvictionPolicy } from '@gooseherd/store';
import { WorkerModule } from './worker.module.js';

/**
 * A Gooseherd worker: loads the model, then runs agent segments from the queue until SIGTERM/SIGINT, when
 * it drains (checkpoints and hands its agents back) and exits 0.
 */
export async function main(): Promise<void> {
  const env = loadEnv();
  // Refuses (exit 1, naming maxmemory-policy) a Redis that may evict keys, before the model loads; an
  // unreachable one is not a reason to refuse: the worker starts and waits for it.
  const policy = await checkRedisEvictionPolicy(env.REDIS_URL);
  if (policy.outcome !== 'ok') console.warn(`redis maxmemory-policy not checked at start: ${policy.reason}`);
  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error', 'warn'] });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // Last resort: the drain itself gives up before this.
    setTimeout(() => process.exit(1), env.GOOSEHERD_DRAIN_MS + 2000).unref();
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
