import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { WebSocket } from 'ws';
import { CLOSE_UNAUTHORIZED } from './event-socket-session.js';
import { SocketSessions } from './socket-sessions.js';

/**
 * Runs for every frame as it arrives (Nest calls guards synchronously in its dispatch, in arrival order): takes
 * the frame's turn in its connection's queue, waits for the frames before it, then lets only `auth` through
 * until the connection is authenticated; anything else before that closes it with 4401.
 */
@Injectable()
export class FrameTurnGuard implements CanActivate {
  constructor(@Inject(SocketSessions) private readonly sessions: SocketSessions) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const ws = context.switchToWs();
    const session = this.sessions.of(ws.getClient<WebSocket>());
    const frame = ws.getData<object>();
    if (!session) return false;
    const turn = session.takeTurn(frame);
    if (turn === false) return false;
    return turn.then((ok) => {
      if (!ok) return false;
      if (session.principal || ws.getPattern() === 'auth') return true;
      session.endTurn(frame);
      session.close(CLOSE_UNAUTHORIZED, 'send {"type":"auth","token":"<api key>"} first');
      return false;
    });
  }
}
