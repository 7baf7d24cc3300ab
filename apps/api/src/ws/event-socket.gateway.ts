import type { IncomingMessage } from 'node:http';
import { Inject, UseFilters, UseGuards, type OnModuleDestroy } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type OnGatewayInit,
} from '@nestjs/websockets';
import {
  FINAL_EVENT_KINDS,
  type AuthFrame,
  type SubscribeFrame,
  type TaskEvent,
  type UnsubscribeFrame,
} from '@gooseherd/contracts';
import type { ApiStore, EventFeed } from '@gooseherd/store';
import { RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { WebSocket } from 'ws';
import { ApiKeyAuthenticator, bearerToken } from '../auth/api-key-authenticator.js';
import { FailedAuthLimiter } from '../auth/failed-auth-limiter.js';
import { isReplayed } from '../events/replay.js';
import { StreamBudget, type Reservation } from '../events/stream-budget.js';
import { Metrics } from '../observability/metrics.js';
import { API_STORE, EVENT_FEED, RATE_LIMITER } from '../tokens.js';
import { ErrorFrameFilter } from './error-frame.filter.js';
import { FrameError } from './frame-error.js';
import { FrameTurnGuard } from './frame-turn.guard.js';
import { INVALID_FRAME_EVENT, type FrameProblem } from './frames.js';
import {
  CLOSE_GOING_AWAY,
  CLOSE_TOO_MANY,
  CLOSE_TRY_AGAIN,
  CLOSE_UNAUTHORIZED,
  SocketSession,
  WS_LIMITS,
  type Subscription,
} from './event-socket-session.js';
import { SocketSessions } from './socket-sessions.js';

export const WS_PATH = '/v1/ws';
const HEARTBEAT_MS = 30_000;
const ID = /^[\w-]{1,64}$/;

type Target = { kind: 'task' | 'agent'; id: string; field: 'taskId' | 'agentId' };

/**
 * `/v1/ws`: live task and agent events. Authentication by `?token=` / `Authorization` on the upgrade or a first
 * `auth` frame; then `subscribe`, `unsubscribe` and `ping`, handled one at a time per connection in arrival
 * order (FrameTurnGuard). Errors leave as error frames (ErrorFrameFilter) and the connection stays open.
 * Limits (WS_LIMITS): subscribe frames cost the key's rate limit; connections and subscriptions per key are
 * capped by reservations taken before any await; replayed stored events per key are budgeted.
 */
@WebSocketGateway({ path: WS_PATH, maxPayload: WS_LIMITS.maxFrameBytes })
@UseGuards(FrameTurnGuard)
@UseFilters(ErrorFrameFilter)
export class EventSocketGateway
  implements OnGatewayInit, OnGatewayConnection, OnGatewayDisconnect, OnModuleDestroy
{
  private heartbeat?: NodeJS.Timeout;

  constructor(
    @Inject(SocketSessions) private readonly sessions: SocketSessions,
    @Inject(ApiKeyAuthenticator) private readonly auth: ApiKeyAuthenticator,
    @Inject(FailedAuthLimiter) private readonly failures: FailedAuthLimiter,
    @Inject(StreamBudget) private readonly budget: StreamBudget,
    @Inject(RATE_LIMITER) private readonly rateLimiter: RateLimiterAbstract,
    @Inject(API_STORE) private readonly store: ApiStore,
    @Inject(EVENT_FEED) private readonly feed: EventFeed,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  afterInit(): void {
    // Drops connections whose peer vanished without a close frame.
    this.heartbeat = setInterval(() => {
      for (const session of this.sessions.all()) {
        if (!session.alive) session.terminate();
        session.alive = false;
        session.ping();
      }
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  /** Called synchronously on the upgrade, before any frame of the connection is dispatched. */
  handleConnection(client: WebSocket, req: IncomingMessage): void {
    const session = new SocketSession(client, req.socket.remoteAddress ?? 'unknown');
    this.sessions.add(session);
    this.metrics.wsConnections.inc();
    client.on('pong', () => (session.alive = true));
    client.on('error', () => client.terminate());
    const token = tokenOf(req);
    if (token === undefined) {
      session.authTimer = setTimeout(
        () => session.close(CLOSE_UNAUTHORIZED, 'authentication timeout'),
        WS_LIMITS.authGraceMs,
      );
      return;
    }
    // The token is handled in the first turn, so frames sent right after the upgrade wait for it.
    const turn = {};
    const taken = session.takeTurn(turn);
    if (!taken) return;
    void taken.then(async (ok) => {
      if (ok) await session.handle(turn, () => this.authenticate(session, token));
    });
  }

  handleDisconnect(client: WebSocket): void {
    const session = this.sessions.of(client);
    if (!session || session.closed) return;
    session.closed = true;
    clearTimeout(session.authTimer);
    for (const [key, subscription] of [...session.subscriptions]) this.remove(session, key, subscription);
    session.connectionSlot?.release();
    session.untrackBacklog();
    this.sessions.delete(session);
    this.metrics.wsConnections.dec();
  }

  @SubscribeMessage('auth')
  onAuth(@ConnectedSocket() client: WebSocket, @MessageBody() frame: AuthFrame): Promise<void> {
    const session = this.session(client);
    return session.handle(frame, async () => {
      if (session.principal) throw new FrameError('invalid_frame', 'already authenticated', 'type');
      await this.authenticate(session, frame.token);
    });
  }

  @SubscribeMessage('ping')
  onPing(@ConnectedSocket() client: WebSocket, @MessageBody() frame: object): Promise<void> {
    const session = this.session(client);
    return session.handle(frame, () => session.send({ type: 'pong' }));
  }

  @SubscribeMessage(INVALID_FRAME_EVENT)
  onInvalid(@ConnectedSocket() client: WebSocket, @MessageBody() problem: FrameProblem): Promise<void> {
    return this.session(client).handle(problem, () => {
      throw new FrameError(problem.code, problem.message, problem.field);
    });
  }

  @SubscribeMessage('unsubscribe')
  onUnsubscribe(@ConnectedSocket() client: WebSocket, @MessageBody() frame: UnsubscribeFrame): Promise<void> {
    const session = this.session(client);
    return session.handle(frame, () => {
      const target = targetOf(frame);
      const key = `${target.kind}:${target.id}`;
      const subscription = session.subscriptions.get(key);
      if (!subscription)
        throw new FrameError('not_subscribed', `no subscription to this ${target.kind}`, target.field);
      this.remove(session, key, subscription);
      session.send({ type: 'unsubscribed', [target.field]: target.id });
    });
  }

  @SubscribeMessage('subscribe')
  onSubscribe(@ConnectedSocket() client: WebSocket, @MessageBody() frame: SubscribeFrame): Promise<void> {
    const session = this.session(client);
    return session.handle(frame, () => this.subscribe(session, frame));
  }

  /** Closes every client with 1001 (going away) and waits briefly for the closing handshakes. */
  async onModuleDestroy(): Promise<void> {
    clearInterval(this.heartbeat);
    for (const session of this.sessions.all()) session.close(CLOSE_GOING_AWAY, 'server shutting down');
    const deadline = Date.now() + 1_000;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const session of this.sessions.all()) session.terminate();
  }

  private session(client: WebSocket): SocketSession {
    const session = this.sessions.of(client);
    // The turn guard let the frame through, so the session exists.
    if (!session) throw new FrameError('internal', 'no session for this connection');
    return session;
  }

  private async authenticate(session: SocketSession, token: string): Promise<void> {
    clearTimeout(session.authTimer);
    if (this.failures.blockedFor(session.address) !== undefined)
      return session.close(CLOSE_TOO_MANY, 'too many failed authentications');
    const principal = this.auth.authenticate(token);
    if (!principal) {
      let blocked: number | undefined;
      try {
        blocked = await this.failures.recordFailure(session.address);
      } catch {
        this.metrics.wsFramesRejected.inc({ code: 'unavailable' });
        session.send({
          type: 'error',
          code: 'unavailable',
          message: 'the state store is unreachable; reconnect shortly',
        });
        return session.close(CLOSE_TRY_AGAIN, 'store unavailable');
      }
      if (blocked !== undefined) return session.close(CLOSE_TOO_MANY, 'too many failed authentications');
      return session.close(CLOSE_UNAUTHORIZED, 'invalid API key');
    }
    const slot = this.budget.reserveConnection(principal.keyHash);
    if (!slot.ok) return session.close(CLOSE_TOO_MANY, `at most ${slot.limit} connections per API key`);
    if (session.closed) return slot.release();
    session.principal = principal;
    session.connectionSlot = slot;
    session.untrackBacklog = this.budget.trackBacklog(principal.keyHash, () => session.socket.bufferedAmount);
    session.tooFarBehind = (unsent) => this.budget.tooFarBehind(principal.keyHash, unsent);
    session.send({ type: 'authenticated', tenant: principal.tenantId });
  }

  private async subscribe(session: SocketSession, frame: SubscribeFrame): Promise<void> {
    const principal = session.principal!;
    const target = targetOf(frame);
    await this.chargeRateLimit(principal.keyHash, target.field);

    // Caps: the key's slot is reserved here, synchronously, and given back on every path that does not subscribe.
    const key = `${target.kind}:${target.id}`;
    const replacing = session.subscriptions.get(key);
    let reserved: Reservation | undefined;
    if (!replacing) {
      if (session.subscriptions.size >= WS_LIMITS.subscriptionsPerConnection) {
        throw new FrameError(
          'too_many_subscriptions',
          `at most ${WS_LIMITS.subscriptionsPerConnection} per connection`,
          target.field,
        );
      }
      const slot = this.budget.reserveSubscription(principal.keyHash);
      if (!slot.ok)
        throw new FrameError('too_many_subscriptions', `at most ${slot.limit} per API key`, target.field);
      reserved = slot;
    }
    let exists: boolean;
    try {
      exists = ID.test(target.id) && (await this.owns(principal.tenantId, target));
    } catch {
      reserved?.release();
      throw new FrameError('unavailable', 'the state store is unreachable; retry shortly', target.field);
    }
    if (!exists) {
      reserved?.release();
      throw new FrameError('not_found', `${target.kind} not found`, target.field);
    }
    if (session.closed) return reserved?.release();

    let slot: Reservation;
    if (replacing) {
      stop(replacing);
      slot = replacing.slot;
    } else {
      slot = reserved!;
      this.metrics.wsSubscriptions.inc();
    }
    const after = frame.after ?? 0;
    const subscription: Subscription = { active: true, slot };
    session.subscriptions.set(key, subscription);
    session.send({ type: 'subscribed', [target.field]: target.id, after });

    // Dedupe by position, so a resubscription or a feed retry can never repeat an event.
    let last = after;
    const subscribedAt = Date.now();
    const onEvent = (event: TaskEvent) => {
      const position = target.kind === 'task' ? event.seq : event.agentSeq;
      if (!subscription.active || position <= last) return;
      if (isReplayed(event, subscribedAt) && !this.budget.chargeReplay(principal.keyHash)) {
        const { retryAfterMs } = this.budget.replayState(principal.keyHash);
        this.metrics.wsFramesRejected.inc({ code: 'replay_limited' });
        session.send({
          type: 'error',
          code: 'replay_limited',
          message:
            `this API key replayed ${WS_LIMITS.replayEventsPerKey} stored events in the last ` +
            `${WS_LIMITS.replayWindowMs / 1000} s; the subscription ended after ${last}: subscribe again with ` +
            `"after": ${last} in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`,
          field: target.field,
        });
        return this.remove(session, key, subscription);
      }
      last = position;
      session.sendEvent(event);
      // A finished task's log is complete: free the slot.
      if (target.kind === 'task' && FINAL_EVENT_KINDS.includes(event.kind))
        this.remove(session, key, subscription);
    };
    const unfollow =
      target.kind === 'task'
        ? this.feed.followTask(target.id, after, onEvent)
        : this.feed.followAgent(target.id, after, onEvent);
    if (subscription.active) subscription.stop = unfollow;
    else unfollow();
  }

  /** A subscribe frame costs one point of the key's rate limit, as a REST request does. */
  private async chargeRateLimit(keyHash: string, field: string): Promise<void> {
    try {
      await this.rateLimiter.consume(keyHash);
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        const retryAfter = Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
        throw new FrameError('rate_limited', `rate limit exceeded; retry after ${retryAfter} s`, field);
      }
      throw new FrameError('unavailable', 'the state store is unreachable; retry shortly', field);
    }
  }

  private owns(tenantId: string, target: Target): Promise<boolean> {
    const read =
      target.kind === 'task'
        ? this.store.getTask(tenantId, target.id)
        : this.store.getAgent(tenantId, target.id);
    return read.then((found) => found !== undefined);
  }

  private remove(session: SocketSession, key: string, subscription: Subscription): void {
    if (session.subscriptions.get(key) !== subscription) return;
    stop(subscription);
    session.subscriptions.delete(key);
    subscription.slot.release();
    this.metrics.wsSubscriptions.dec();
  }
}

function stop(subscription: Subscription): void {
  subscription.active = false;
  subscription.stop?.();
}

function targetOf(frame: SubscribeFrame | UnsubscribeFrame): Target {
  return frame.taskId !== undefined
    ? { kind: 'task', id: frame.taskId, field: 'taskId' }
    : { kind: 'agent', id: frame.agentId as string, field: 'agentId' };
}

/** `?token=` or `Authorization: Bearer` on the upgrade request; undefined means "expect an auth frame". */
function tokenOf(req: IncomingMessage): string | undefined {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('token');
  return query ?? bearerToken(req.headers.authorization);
}
