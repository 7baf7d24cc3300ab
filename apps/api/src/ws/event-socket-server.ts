import type { IncomingMessage, Server } from 'node:http';
import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { ApiStore, EventFeed } from '@gooseherd/store';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiKeyAuthenticator, bearerToken } from '../auth/api-key-authenticator.js';
import type { Logger } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import { API_STORE, EVENT_FEED, LOGGER } from '../tokens.js';
import { EventSocketSession, type SessionContext } from './event-socket-session.js';

export const WS_PATH = '/v1/ws';
const MAX_FRAME_BYTES = 64 * 1024;
const HEARTBEAT_MS = 30_000;
const CLOSE_GOING_AWAY = 1001;

/**
 * The native WebSocket endpoint, attached to Nest's HTTP server. Frames route on their `type`, so a plain
 * `ws` server is simpler here than Nest's event-routed gateways.
 */
@Injectable()
export class EventSocketServer implements OnApplicationBootstrap, OnModuleDestroy {
  private wss?: WebSocketServer;
  private heartbeat?: NodeJS.Timeout;
  private readonly sessions = new Set<EventSocketSession>();
  private readonly context: SessionContext;

  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(ApiKeyAuthenticator) auth: ApiKeyAuthenticator,
    @Inject(API_STORE) store: ApiStore,
    @Inject(EVENT_FEED) feed: EventFeed,
    @Inject(Metrics) metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.context = { auth, store, feed, metrics, logger, keySubscriptions: new Map() };
  }

  onApplicationBootstrap(): void {
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    this.wss = new WebSocketServer({ server, path: WS_PATH, maxPayload: MAX_FRAME_BYTES });
    this.wss.on('error', (error) => this.logger.error({ err: error }, 'websocket server error'));
    this.wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      const session = new EventSocketSession(socket, tokenOf(req), this.context);
      this.sessions.add(session);
      socket.once('close', () => this.sessions.delete(session));
    });
    // Drops connections whose peer vanished without a close frame.
    this.heartbeat = setInterval(() => {
      for (const session of this.sessions) {
        if (!session.alive) session.terminate();
        session.alive = false;
        session.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Closes every client with 1001 (going away) and waits briefly for the closing handshakes. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const session of this.sessions) session.close(CLOSE_GOING_AWAY, 'server shutting down');
    const deadline = Date.now() + 1_000;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const session of this.sessions) session.terminate();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
  }
}

/** `?token=` or `Authorization: Bearer` on the upgrade request; undefined means "expect an auth frame". */
function tokenOf(req: IncomingMessage): string | undefined {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  return query ?? bearerToken(req.headers.authorization);
}
