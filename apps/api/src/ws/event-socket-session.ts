import type { ServerFrame, TaskEvent } from '@gooseherd/contracts';
import { WebSocket } from 'ws';
import type { Principal } from '../auth/api-key-authenticator.js';
import { eventFrameText } from '../events/event-text.js';
import type { Reservation } from '../events/stream-budget.js';
import { STREAM_LIMITS } from '../events/stream-limits.js';

export const WS_LIMITS = Object.freeze({
  ...STREAM_LIMITS,
  /** Time to send `{"type":"auth"}` when the upgrade carried no token. */
  authGraceMs: 5_000,
  /** Frames received but not yet handled; a client past this is flooding (closed with 1008). */
  pendingFrames: 1_000,
  /** Largest client frame (bigger ones are closed by ws with 1009). */
  maxFrameBytes: 64 * 1024,
});

export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY = 1008;
export const CLOSE_TRY_AGAIN = 1013;
export const CLOSE_UNAUTHORIZED = 4401;
/** Too many connections for the key, or too many failed authentications from the address. */
export const CLOSE_TOO_MANY = 4429;

export interface Subscription {
  active: boolean;
  stop?: () => void;
  /** The key's subscription budget slot, given back when the subscription ends. */
  slot: Reservation;
}

/**
 * The state of one `/v1/ws` connection. Frames are handled strictly one at a time in arrival order: the guard
 * takes a turn for each frame as it arrives (synchronously, inside Nest's dispatch) and the handler gives it back
 * when it is done, so a frame's checks and effects never interleave with the next frame's.
 */
export class SocketSession {
  principal?: Principal;
  /** The key's connection budget slot (taken at authentication). */
  connectionSlot?: Reservation;
  readonly subscriptions = new Map<string, Subscription>();
  alive = true;
  closed = false;
  authTimer?: NodeJS.Timeout;
  private pending = 0;
  private tail: Promise<void> = Promise.resolve();
  private readonly turns = new WeakMap<object, () => void>();

  constructor(
    readonly socket: WebSocket,
    /** The client's address (failed-authentication limit). */
    readonly address: string,
  ) {}

  /**
   * Takes the next turn for `frame` (called as the frame arrives). Resolves when every earlier frame is done;
   * false when the connection is flooding or already closed (the turn is given back then).
   */
  takeTurn(frame: object): Promise<boolean> | false {
    if (++this.pending > WS_LIMITS.pendingFrames) {
      this.close(CLOSE_POLICY, 'too many frames in flight');
      return false;
    }
    const previous = this.tail;
    let done!: () => void;
    this.tail = new Promise<void>((resolve) => (done = resolve));
    const give = () => {
      this.pending--;
      done();
    };
    this.turns.set(frame, give);
    return previous.then(() => {
      if (!this.closed) return true;
      this.endTurn(frame);
      return false;
    });
  }

  /** Gives back the turn of `frame` (idempotent). */
  endTurn(frame: object): void {
    const give = this.turns.get(frame);
    if (!give) return;
    this.turns.delete(frame);
    give();
  }

  /** Runs a frame's handler in its turn, and gives the turn back however it ends. */
  async handle<T>(frame: object, body: () => Promise<T> | T): Promise<T> {
    try {
      return await body();
    } finally {
      this.endTurn(frame);
    }
  }

  send(frame: ServerFrame): void {
    this.sendText(JSON.stringify(frame));
  }

  /** An event frame (serialized once for all the clients that receive it). */
  sendEvent(event: TaskEvent): void {
    this.sendText(eventFrameText(event));
  }

  private sendText(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    const unsent = this.socket.bufferedAmount;
    if (unsent > WS_LIMITS.wsMaxBufferedBytes || this.tooFarBehind(unsent))
      return this.close(CLOSE_TRY_AGAIN, 'client too slow');
    this.socket.send(text);
  }

  /** Set at authentication: whether this client must be dropped for its key's unsent-bytes budget. */
  tooFarBehind: (unsent: number) => boolean = () => false;
  /** Set at authentication: removes this connection from its key's unsent-bytes accounting. */
  untrackBacklog: () => void = () => undefined;

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
}
