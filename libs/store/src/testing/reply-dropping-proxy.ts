import * as net from 'node:net';

/**
 * A TCP proxy between a Redis client and a real Redis that can lose one reply: armed with a trigger, it forwards
 * the first command chunk that contains the trigger, lets Redis run it, then drops the reply and breaks both
 * connections. ioredis then reconnects and resends the command it never got an answer to: the same command runs
 * twice, exactly what happens when a link breaks between a command and its reply.
 */
export class ReplyDroppingProxy {
  /** Replies dropped so far. */
  dropped = 0;
  private triggers: Buffer[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(upstream: { host: string; port: number }): Promise<ReplyDroppingProxy> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new ReplyDroppingProxy(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (client: net.Socket) => proxy.connect(client, upstream));
    return proxy;
  }

  /**
   * The next command whose bytes contain one of `triggers` loses its reply (for a script: its SHA-1, sent with
   * EVALSHA, and the start of its source, sent with EVAL on a connection's first use).
   */
  dropReplyTo(...triggers: string[]): void {
    this.triggers = triggers.map((t) => Buffer.from(t));
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private connect(client: net.Socket, upstream: { host: string; port: number }): void {
    const server = net.createConnection(upstream);
    this.sockets.add(client).add(server);
    let dropNextReply = false;
    const breakBoth = () => {
      client.destroy();
      server.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (this.triggers.some((t) => chunk.includes(t))) {
        this.triggers = [];
        dropNextReply = true;
      }
      server.write(chunk);
    });
    server.on('data', (chunk: Buffer) => {
      if (dropNextReply) {
        this.dropped += 1;
        breakBoth();
        return;
      }
      client.write(chunk);
    });
    for (const s of [client, server]) {
      s.on('error', breakBoth);
      s.on('close', () => {
        this.sockets.delete(s);
        breakBoth();
      });
    }
  }
}
