import { loadEnv } from '@gooseherd/contracts';
import { createApp } from './create-app.js';
import { createLogger } from './observability/logger.js';

async function main(): Promise<void> {
  const env = loadEnv();
  const logger = createLogger(env.LOG_LEVEL);
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  const app = await createApp(env, logger);
  // SIGTERM/SIGINT: close WebSocket clients (1001), SSE streams, the HTTP server, then Redis.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen(env.PORT, env.HOST);
  const url = (await app.getUrl()).replace('[::1]', 'localhost');
  logger.info({ url, model: env.GOOSEHERD_MODEL_NAME }, `gooseherd api listening on ${url}`);
}

main().catch((error: unknown) => {
  // loadEnv's message lists every bad variable; print it plainly for whoever starts the process.
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
