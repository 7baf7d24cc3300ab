import { Catch, Inject, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { LOGGER } from '../tokens.js';
import { FrameError } from './frame-error.js';
import { SocketSessions } from './socket-sessions.js';

/**
 * Every error of a `/v1/ws` handler leaves as an error frame and the connection stays open: a FrameError with
 * its code and field, anything unexpected as `internal` (details in the log only). A refusal by the turn guard
 * has already closed the connection and sends nothing.
 */
@Catch()
export class ErrorFrameFilter implements ExceptionFilter {
  constructor(
    @Inject(SocketSessions) private readonly sessions: SocketSessions,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  catch(error: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const session = this.sessions.of(ws.getClient<WebSocket>());
    if (!session) return;
    let code = 'internal';
    let message = 'the frame could not be handled';
    let field: string | undefined;
    if (error instanceof FrameError) {
      ({ code, message, field } = { code: error.code, message: error.message, field: error.field });
    } else if (error instanceof WsException) {
      return; // the turn guard refused the frame (and closed the connection)
    } else {
      this.logger.error({ err: error }, 'websocket frame handling failed');
    }
    this.metrics.wsFramesRejected.inc({ code });
    session.send(
      field === undefined ? { type: 'error', code, message } : { type: 'error', code, message, field },
    );
  }
}
