import { loadEnv } from '@gooseherd/contracts';
import { checkRedisEvictionPolicy } from '@gooseherd/store';
import { weakApiKeyProblems } from './auth/api-key-strength.js';
import { createApp } from './create-app.js';
import { createLogger } from './observability/logger.js';

async function main(): Promise<void> {
  const env = loadEnv();
  const weakKeys = weakApiKeyProblems(env);
  if (weakKeys.length > 0) throw new Error(`refusing to start with weak API keys:\n${weakKeys.join('\n')}`);
  const logger = createLogger(env.LOG_LEVEL);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  // Refuses (exit 1, naming maxmemory-policy) a Redis that may evict keys; an unreachable one is not a reason
  // to refuse: the API starts and answers 503 until Redis is back.
  const policy = await checkRedisEvictionPolicy(env.REDIS_URL);
  if (policy.outcome !== 'ok') logger.warn({ redis: policy }, 'redis maxmemory-policy not checked at start');
  const app = await createApp(env, logger);
  // SIGTERM/SIGINT: close WebSocket clients (1001), SSE streams, the HTTP server, then Redis, and exit 0.
  // (Nest's own shutdown hooks re-raise the signal, which ends the process with 143.)
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), 10_000).unref();
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  await app.listen(env.PORT, env.HOST);
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.info({ url, model: env.GOOSEHERD_MODEL_NAME }, `gooseherd api listening on ${url}`);
}

main().catch((error: unknown) => {
  // loadEnv's message lists every bad variable; print it plainly for whoever starts the process.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
