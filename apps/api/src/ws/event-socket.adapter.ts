import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../observability/logger.js';
import { routeFrame } from './frames.js';

/**
 * Nest's `ws` adapter with this API's frame routing (frames route on their `type`; invalid ones to the
 * invalid-frame handler). Client protocol errors (bad UTF-8, oversized frames) are the client's fault: ws
 * closes those connections with 1007/1009 and they are logged at debug, not as server errors.
 */
export class EventSocketAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly log: Logger,
  ) {
    super(app, { messageParser: routeFrame });
  }

  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (ws) =>
      ws.on('error', (err) => this.log.debug({ err: err.message }, 'websocket client error')),
    );
    server.on('error', (err) => this.log.error({ err }, 'websocket server error'));
    return server;
  }
}
