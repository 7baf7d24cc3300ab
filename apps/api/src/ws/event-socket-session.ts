import {
  FINAL_EVENT_KINDS,
  type ServerFrame,
  type SubscribeFrame,
  type TaskEvent,
  type UnsubscribeFrame,
} from '@gooseherd/contracts';
import type { ApiStore, EventFeed } from '@gooseherd/store';
import { WebSocket, type RawData } from 'ws';
import type { ApiKeyAuthenticator, Principal } from '../auth/api-key-authenticator.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import { parseClientFrame } from './frames.js';

export const WS_LIMITS = Object.freeze({
  subscriptionsPerConnection: 256,
  subscriptionsPerKey: 1024,
  /** Time to send `{"type":"auth"}` when the URL carried no token. */
  authGraceMs: 5_000,
  /** Frames received but not yet handled; a client past this is flooding. */
  pendingFrames: 1_000,
  /** Unsent bytes before a client counts as too slow and is dropped. */
  maxBufferedBytes: 8 * 1024 * 1024,
});

export const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_POLICY = 1008;
const CLOSE_TRY_AGAIN = 1013;
const ID = /^[\w-]{1,64}$/;

export interface SessionContext {
  auth: ApiKeyAuthenticator;
  store: ApiStore;
  feed: EventFeed;
  metrics: Metrics;
  logger: Logger;
  /** Subscriptions per API key across this instance's connections. */
  keySubscriptions: Map<string, number>;
}

interface Subscription {
  active: boolean;
  stop?: () => void;
}

type Target = { kind: 'task' | 'agent'; id: string; field: 'taskId' | 'agentId' };

/**
 * One `/v1/ws` connection: authentication, then subscribe/unsubscribe/ping frames handled one at a time
 * in arrival order. Bad frames get an error frame and the connection stays open.
 */
export class EventSocketSession {
  private principal?: Principal;
  private readonly subscriptions = new Map<string, Subscription>();
  private work: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;
  private authTimer?: NodeJS.Timeout;
  alive = true;

  constructor(
    private readonly socket: WebSocket,
    token: string | undefined,
    private readonly ctx: SessionContext,
  ) {
    ctx.metrics.wsConnections.inc();
    socket.on('message', (data: RawData, isBinary: boolean) => this.receive(data as Buffer, isBinary));
    socket.on('pong', () => (this.alive = true));
    socket.on('error', () => socket.terminate());
    socket.once('close', () => this.dispose());
    if (token !== undefined) this.enqueue(() => this.authenticate(token));
    else
      this.authTimer = setTimeout(
        () => this.close(CLOSE_UNAUTHORIZED, 'authentication timeout'),
        WS_LIMITS.authGraceMs,
      );
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code, reason);
    }
  }

  terminate(): void {
    this.socket.terminate();
  }

  ping(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (++this.pending > WS_LIMITS.pendingFrames)
      return this.close(CLOSE_POLICY, 'too many frames in flight');
    this.enqueue(() => this.handle(data, isBinary));
  }

  private enqueue(task: () => Promise<void> | void): void {
    this.work = this.work
      .then(() => (this.closed ? undefined : task()))
      .catch((error: unknown) => {
        this.ctx.logger.error({ err: error }, 'websocket frame handling failed');
        this.sendError('internal', 'the frame could not be handled');
      });
  }

  private async handle(data: Buffer, isBinary: boolean): Promise<void> {
    this.pending--;
    const parsed = parseClientFrame(data, isBinary);
    if (!this.principal) {
      if (parsed.ok && parsed.frame.type === 'auth') return this.authenticate(parsed.frame.token);
      return this.close(CLOSE_UNAUTHORIZED, 'send {"type":"auth","token":"<api key>"} first');
    }
    if (!parsed.ok) return this.sendError(parsed.code, parsed.message, parsed.field);
    const frame = parsed.frame;
    switch (frame.type) {
      case 'ping':
        return this.send({ type: 'pong' });
      case 'auth':
        return this.sendError('invalid_frame', 'already authenticated', 'type');
      case 'subscribe':
        return this.subscribe(this.principal, frame);
      case 'unsubscribe':
        return this.unsubscribe(frame);
    }
  }

  private authenticate(token: string): void {
    clearTimeout(this.authTimer);
    const principal = this.ctx.auth.authenticate(token);
    if (!principal) return this.close(CLOSE_UNAUTHORIZED, 'invalid API key');
    this.principal = principal;
    this.send({ type: 'authenticated', tenant: principal.tenantId });
  }

  private async subscribe(principal: Principal, frame: SubscribeFrame): Promise<void> {
    const target = targetOf(frame);
    const key = `${target.kind}:${target.id}`;
    const replacing = this.subscriptions.get(key);
    if (!replacing) {
      const perKey = this.ctx.keySubscriptions.get(principal.keyHash) ?? 0;
      if (this.subscriptions.size >= WS_LIMITS.subscriptionsPerConnection) {
        return this.sendError(
          'too_many_subscriptions',
          `at most ${WS_LIMITS.subscriptionsPerConnection} per connection`,
          target.field,
        );
      }
      if (perKey >= WS_LIMITS.subscriptionsPerKey) {
        return this.sendError(
          'too_many_subscriptions',
          `at most ${WS_LIMITS.subscriptionsPerKey} per API key`,
          target.field,
        );
      }
    }
    let exists: boolean;
    try {
      exists = ID.test(target.id) && (await this.owns(principal.tenantId, target));
    } catch {
      return this.sendError('unavailable', 'the state store is unreachable; retry shortly', target.field);
    }
    if (!exists) return this.sendError('not_found', `${target.kind} not found`, target.field);
    if (this.closed) return;

    if (replacing) this.stop(replacing);
    else this.count(principal, +1);
    const after = frame.after ?? 0;
    const subscription: Subscription = { active: true };
    this.subscriptions.set(key, subscription);
    this.send({ type: 'subscribed', [target.field]: target.id, after });

    // Dedupe by position, so a resubscription or a feed retry can never repeat an event.
    let last = after;
    const onEvent = (event: TaskEvent) => {
      const position = target.kind === 'task' ? event.seq : event.agentSeq;
      if (!subscription.active || position <= last) return;
      last = position;
      this.send({ type: 'event', ...event });
      // A finished task's log is complete: free the slot.
      if (target.kind === 'task' && FINAL_EVENT_KINDS.includes(event.kind)) this.remove(key, subscription);
    };
    const stop =
      target.kind === 'task'
        ? this.ctx.feed.followTask(target.id, after, onEvent)
        : this.ctx.feed.followAgent(target.id, after, onEvent);
    if (subscription.active) subscription.stop = stop;
    else stop();
  }

  private unsubscribe(frame: UnsubscribeFrame): void {
    const target = targetOf(frame);
    const subscription = this.subscriptions.get(`${target.kind}:${target.id}`);
    if (!subscription)
      return this.sendError('not_subscribed', `no subscription to this ${target.kind}`, target.field);
    this.remove(`${target.kind}:${target.id}`, subscription);
    this.send({ type: 'unsubscribed', [target.field]: target.id });
  }

  private owns(tenantId: string, target: Target): Promise<boolean> {
    const read =
      target.kind === 'task'
        ? this.ctx.store.getTask(tenantId, target.id)
        : this.ctx.store.getAgent(tenantId, target.id);
    return read.then((found) => found !== undefined);
  }

  private stop(subscription: Subscription): void {
    subscription.active = false;
    subscription.stop?.();
  }

  private remove(key: string, subscription: Subscription): void {
    if (this.subscriptions.get(key) !== subscription) return;
    this.stop(subscription);
    this.subscriptions.delete(key);
    if (this.principal) this.count(this.principal, -1);
  }

  private count(principal: Principal, delta: 1 | -1): void {
    const counts = this.ctx.keySubscriptions;
    const next = (counts.get(principal.keyHash) ?? 0) + delta;
    if (next > 0) counts.set(principal.keyHash, next);
    else counts.delete(principal.keyHash);
    this.ctx.metrics.wsSubscriptions.inc(delta);
  }

  private send(frame: ServerFrame): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.socket.bufferedAmount > WS_LIMITS.maxBufferedBytes)
      return this.close(CLOSE_TRY_AGAIN, 'client too slow');
    this.socket.send(JSON.stringify(frame));
  }

  private sendError(code: string, message: string, field?: string): void {
    this.ctx.metrics.wsFramesRejected.inc({ code });
    this.send(
      field === undefined ? { type: 'error', code, message } : { type: 'error', code, message, field },
    );
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.authTimer);
    for (const [key, subscription] of [...this.subscriptions]) this.remove(key, subscription);
    this.ctx.metrics.wsConnections.dec();
  }
}

function targetOf(frame: SubscribeFrame | UnsubscribeFrame): Target {
  return frame.taskId !== undefined
    ? { kind: 'task', id: frame.taskId, field: 'taskId' }
    : { kind: 'agent', id: frame.agentId as string, field: 'agentId' };
}
