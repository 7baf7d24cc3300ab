import * as net from 'node:net';
import { withDeadline } from '@gooseherd/test-kit';

/**
 * Watching one process's Redis traffic (its connections, from the test kit's process-sockets): a MONITOR tap that
 * keeps only the script calls those connections make, each with the commands the script ran inside Redis
 * (MONITOR shows them as `[0 lua]` lines right after the call).
 */

/** A script call seen by MONITOR: its arguments (ARGV as strings, long ones cut) and the commands it ran. */
export interface ScriptCall {
  /** Redis's time of the call, seconds. */
  time: number;
  source: string;
  /** `evalsha`/`eval`, sha or source, numkeys, then the script's ARGV. */
  args: string[];
  /** Each command the script ran: name (upper case) and first key. */
  ran: { command: string; key: string }[];
}

/** Commands that change data; a fenced script that refused runs none of them. */
export const WRITE_COMMANDS = new Set([
  'SET',
  'APPEND',
  'HSET',
  'HINCRBY',
  'HDEL',
  'XADD',
  'PUBLISH',
  'RPUSH',
  'LPOP',
  'LREM',
  'EXPIRE',
  'SADD',
  'SREM',
  'DEL',
  'ZADD',
  'ZREM',
]);

/** Bytes kept of each line: enough for an EVAL's script source and the arguments after it. */
const HEAD_BYTES = 32 * 1024;

/**
 * A raw MONITOR connection. Lines are scanned without keeping them (a checkpoint's state blob makes a line of a
 * megabyte): only script calls from `sources` are kept, with the commands their scripts ran.
 */
export class MonitorTap {
  readonly calls: ScriptCall[] = [];
  /** MONITOR lines seen (all clients). */
  lines = 0;
  private head: Buffer[] = [];
  private headBytes = 0;
  private current: ScriptCall | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly sources: Set<string> | 'all',
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', () => undefined);
  }

  /** Taps the script calls of the connections `sources` (CLIENT LIST addrs), or of every client. */
  static async start(port: number, sources: Iterable<string> | 'all'): Promise<MonitorTap> {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    const tap = new MonitorTap(socket, sources === 'all' ? 'all' : new Set(sources));
    await withDeadline(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', () => {
          socket.write('MONITOR\r\n');
          resolve();
        });
        socket.once('error', reject);
      }),
      5_000,
      `a MONITOR connection to Redis on port ${port}`,
    );
    // The +OK arrives before any monitored line.
    await withDeadline(
      new Promise<void>((resolve) => {
        const check = () => (tap.lines > 0 ? resolve() : setTimeout(check, 5));
        check();
      }),
      5_000,
      'MONITOR to answer +OK',
    );
    return tap;
  }

  stop(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(10, from);
      const end = nl < 0 ? chunk.length : nl;
      if (this.headBytes < HEAD_BYTES && end > from) {
        const part = chunk.subarray(from, Math.min(end, from + HEAD_BYTES - this.headBytes));
        this.head.push(Buffer.from(part));
        this.headBytes += part.length;
      }
      if (nl < 0) return;
      this.line(Buffer.concat(this.head).toString('latin1'));
      this.head = [];
      this.headBytes = 0;
      from = nl + 1;
    }
  }

  private line(text: string): void {
    this.lines += 1;
    // "+1700000000.123456 [0 127.0.0.1:5678] "evalsha" "…" …" or "… [0 lua] "HGET" "key" …"
    const m = /^\+(\d+\.\d+) \[\d+ ([^\]]+)\] (.*)$/.exec(text.replace(/\r$/, ''));
    if (!m) return;
    const [, time, source, rest] = m;
    if (source === 'lua') {
      if (this.current) {
        const [command, key] = quotedArgs(rest, 2);
        this.current.ran.push({ command: (command ?? '').toUpperCase(), key: key ?? '' });
      }
      return;
    }
    this.current = undefined;
    if (this.sources !== 'all' && !this.sources.has(source)) return;
    const args = quotedArgs(rest, 12);
    if (!/^eval(sha)?$/i.test(args[0] ?? '')) return;
    this.current = { time: Number(time), source, args, ran: [] };
    this.calls.push(this.current);
  }
}

/**
 * The first `max` double-quoted arguments of a MONITOR line (escapes left as they are, each cut at 200 chars;
 * an EVAL's script source is cut like any other argument).
 */
function quotedArgs(rest: string, max: number): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  let m: RegExpExecArray | null;
  while (out.length < max && (m = re.exec(rest))) out.push(m[1].slice(0, 200));
  return out;
}
