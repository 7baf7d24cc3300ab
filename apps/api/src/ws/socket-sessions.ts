import { Injectable } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { SocketSession } from './event-socket-session.js';

/** The open `/v1/ws` connections of this instance, by socket (shared by the gateway, its guard and filter). */
@Injectable()
export class SocketSessions {
  private readonly byClient = new Map<WebSocket, SocketSession>();

  add(session: SocketSession): void {
    this.byClient.set(session.socket, session);
  }

  of(client: WebSocket): SocketSession | undefined {
    return this.byClient.get(client);
  }

  delete(session: SocketSession): void {
    this.byClient.delete(session.socket);
  }

  get size(): number {
    return this.byClient.size;
  }

  all(): SocketSession[] {
    return [...this.byClient.values()];
  }
}
