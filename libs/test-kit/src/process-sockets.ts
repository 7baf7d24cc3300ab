import * as fs from 'node:fs';

/**
 * `127.0.0.1:port` of every TCP connection that process `pid` holds to 127.0.0.1:`remotePort`, as Redis's
 * CLIENT LIST names them in `addr=`. Read from /proc (Linux); elsewhere, or when the process is gone, the
 * empty list.
 */
export function tcpConnectionsOf(pid: number, remotePort: number): string[] {
  const inodes = new Set<string>();
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // The fd closed meanwhile.
      }
    }
  } catch {
    return [];
  }
  const addrs: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9])) continue;
      const localPort = parseInt(f[1].split(':')[1], 16);
      if (parseInt(f[2].split(':')[1], 16) === remotePort) addrs.push(`127.0.0.1:${localPort}`);
    }
  }
  return addrs;
}
