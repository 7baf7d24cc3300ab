import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import type { Env } from '@gooseherd/contracts';
import { AppModule } from './app.module.js';
import { answerParserErrorsAsProblems } from './http/client-error.js';
import { httpMetricsMiddleware } from './observability/http-metrics.js';
import { PinoNestLogger, type Logger } from './observability/logger.js';
import { Metrics } from './observability/metrics.js';
import { buildOpenApiDocument } from './openapi/openapi-document.js';
import { EventSocketAdapter } from './ws/event-socket.adapter.js';

/** The configured application, not yet listening (main.ts and the tests listen). */
export async function createApp(env: Env, logger: Logger): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(env, logger), {
    // JsonBodyMiddleware is the only body parser (415/413/400 as problems).
    bodyParser: false,
    logger: new PinoNestLogger(logger),
    abortOnError: false,
    // Keep-alive connections must not hold up a shutdown.
    forceCloseConnections: true,
  });
  app.disable('x-powered-by');
  // /v1/ws is a Nest gateway on the `ws` driver, on this HTTP server.
  app.useWebSocketAdapter(new EventSocketAdapter(app, logger));
  answerParserErrorsAsProblems(app.getHttpServer());
  app.use(httpMetricsMiddleware(app.get(Metrics)));
  SwaggerModule.setup('docs', app, buildOpenApiDocument(env.GOOSEHERD_MODEL_NAME), {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
    customSiteTitle: 'Gooseherd API',
  });
  return app;
}
