import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { DeadlineError, withDeadline } from './deadline.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * Every child the harness started and has not yet seen exit; killed if the test process exits first. The exit
 * hook is installed only while there are such children, so test files do not pile up listeners.
 */
const LIVE = new Set<ManagedProcess>();
const killLive = () => {
  for (const proc of LIVE) proc.killNow();
};
function track(proc: ManagedProcess): void {
  if (LIVE.size === 0) process.on('exit', killLive);
  LIVE.add(proc);
}
function untrack(proc: ManagedProcess): void {
  LIVE.delete(proc);
  if (LIVE.size === 0) process.removeListener('exit', killLive);
}

/**
 * A child process whose stdout and stderr go to a log file (written by the child directly, so nothing is
 * lost when the test process is busy), with its exit as a promise and real signals to stop, pause, continue
 * or kill it.
 */
export class ManagedProcess {
  readonly exited: Promise<ExitStatus>;
  readonly startedAt = Date.now();
  exitStatus: ExitStatus | undefined;
  exitedAt: number | undefined;
  private paused = false;

  private constructor(
    readonly name: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
  ) {
    track(this);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        this.exitedAt = Date.now();
        untrack(this);
        resolve(this.exitStatus);
      });
    });
  }

  static spawn(
    name: string,
    command: string,
    args: string[],
    options: { env: NodeJS.ProcessEnv; logPath: string; cwd?: string },
  ): ManagedProcess {
    const fd = fs.openSync(options.logPath, 'a');
    try {
      const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', fd, fd] });
      const proc = new ManagedProcess(name, options.logPath, child);
      child.once('error', (err) =>
        fs.appendFileSync(options.logPath, `\n[harness] spawn failed: ${err.message}\n`),
      );
      return proc;
    } finally {
      fs.closeSync(fd);
    }
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid (spawn failed)`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Sends a real signal. SIGSTOP/SIGCONT are remembered so that stop() can still end a paused process. */
  kill(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM' | 'SIGINT'): void {
    if (!this.running) return;
    if (signal === 'SIGSTOP') this.paused = true;
    if (signal === 'SIGCONT') this.paused = false;
    this.child.kill(signal);
  }

  /** Resolves with the exit status, or rejects naming this process when it is still running at the deadline. */
  waitForExit(timeoutMs: number): Promise<ExitStatus> {
    return withDeadline(this.exited, timeoutMs, `${this.name} (pid ${this.child.pid}) to exit`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. A paused process is killed at once (it cannot handle SIGTERM). */
  async stop(graceMs = 5_000): Promise<ExitStatus> {
    if (!this.running) return this.exitStatus!;
    if (this.paused) {
      this.killNow();
      return this.exited;
    }
    this.child.kill('SIGTERM');
    try {
      return await this.waitForExit(graceMs);
    } catch (err) {
      if (!(err instanceof DeadlineError)) throw err;
      this.killNow();
      return this.exited;
    }
  }

  killNow(): void {
    if (this.running) this.child.kill('SIGKILL');
  }

  /** The last `lines` lines of the process's log. */
  tail(lines = 40): string {
    let text: string;
    try {
      text = fs.readFileSync(this.logPath, 'utf8');
    } catch {
      return '(no log)';
    }
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  describe(): string {
    const state = this.exitStatus
      ? `exited (${this.exitStatus.signal ?? `code ${this.exitStatus.code}`})`
      : this.paused
        ? 'paused'
        : 'running';
    return `${this.name} (pid ${this.child.pid}, ${state}, log ${this.logPath})`;
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
