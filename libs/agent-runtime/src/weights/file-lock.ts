/**
 * A lock file beside a download, so processes sharing one data folder (several workers, `npm start` and a
 * worker) never write the same `.part` at once: the first takes `<file>.lock` (created exclusively), the others
 * wait and then find the file in place. The holder refreshes the lock's mtime every LOCK_REFRESH_MS; a lock
 * left unrefreshed for LOCK_STALE_MS (its holder died, maybe in another container) is taken over, and so
 * at once is one whose holder was a process on this host that no longer exists (an interrupted `pull`).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';

export const LOCK_REFRESH_MS = 5_000;
export const LOCK_STALE_MS = 30_000;
const POLL_MS = 250;

export async function withFileLock<T>(
  file: string,
  fn: () => Promise<T>,
  onWait?: (lock: string) => void,
): Promise<T> {
  const lock = `${file}.lock`;
  let announced = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, `${os.hostname()} ${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let age: number;
    try {
      age = Date.now() - fs.statSync(lock).mtimeMs;
    } catch {
      continue; // released between our two calls: try again at once
    }
    if (age > LOCK_STALE_MS || holderIsGone(lock)) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (!announced) onWait?.(lock);
    announced = true;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const refresh = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(lock, now, now);
    } catch {
      // the lock was taken over as stale; nothing to refresh
    }
  }, LOCK_REFRESH_MS);
  refresh.unref();
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    fs.rmSync(lock, { force: true });
  }
}

/** True when the lock names a process on this host that has exited. */
function holderIsGone(lock: string): boolean {
  let holder: string[];
  try {
    holder = fs.readFileSync(lock, 'utf8').trim().split(' ');
  } catch {
    return false;
  }
  const pid = Number(holder[1]);
  if (holder[0] !== os.hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
