import * as fs from 'node:fs';
import * as os from 'node:os';
import type { GooseherdCluster } from '@gooseherd/test-kit';

/**
 * CPU time over an interval, from /proc (Linux; elsewhere every figure is undefined): how many cores the
 * deployment's processes used, how many this benchmark's own process used, and how busy the whole machine
 * was. On a shared machine the difference is other people's work, which says how far a figure can be
 * trusted: two workers cannot run at twice the rate when something else holds one of the two cores.
 */

/** Clock ticks per second of /proc/<pid>/stat and /proc/stat (USER_HZ; 100 on every Linux we run on). */
const TICKS_PER_S = 100;

interface Sample {
  at: number;
  /** Ticks per process name. */
  procs: Record<string, number>;
  /** This process, microseconds. */
  benchUs: number;
  machineBusy: number;
  machineTotal: number;
}

export interface CpuUse {
  /** Cores (CPU seconds per wall second) used by each of the deployment's processes. */
  processes: Record<string, number>;
  /** Sum over the deployment's processes (API, workers, Redis). */
  deployment: number;
  /** The benchmark client (HTTP, WebSocket frames). */
  bench: number;
  /** Every core's busy share, summed: the whole machine. */
  machine: number;
  /** machine − deployment − bench: work that is not this benchmark's. */
  others: number;
}

function procTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const idle = v[3] + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

export class CpuMeter {
  private constructor(
    private readonly clusters: GooseherdCluster[],
    private readonly start: Sample | undefined,
  ) {}

  /** Starts measuring the processes of `clusters` (API, workers, Redis) and this process. */
  static start(clusters: GooseherdCluster[]): CpuMeter {
    return new CpuMeter(clusters, CpuMeter.sample(clusters));
  }

  private static sample(clusters: GooseherdCluster[]): Sample | undefined {
    const machine = machineTicks();
    if (!machine) return undefined;
    const procs: Record<string, number> = {};
    clusters.forEach((c, i) => {
      const suffix = clusters.length > 1 ? `#${i + 1}` : '';
      for (const p of [c.api, c.redis.process, ...c.workers]) {
        const ticks = procTicks(p.pid);
        if (ticks !== undefined) procs[`${p.name.replace(/:\d+#\d+$/, '')}${suffix}`] = ticks;
      }
    });
    const u = process.cpuUsage();
    return {
      at: Date.now(),
      procs,
      benchUs: u.user + u.system,
      machineBusy: machine.busy,
      machineTotal: machine.total,
    };
  }

  /** CPU use since start, in cores; undefined where /proc is not available. */
  stop(): CpuUse | undefined {
    const end = CpuMeter.sample(this.clusters);
    const start = this.start;
    if (!start || !end) return undefined;
    const wallS = (end.at - start.at) / 1000;
    const processes: Record<string, number> = {};
    for (const [name, ticks] of Object.entries(end.procs)) {
      if (start.procs[name] !== undefined)
        processes[name] = (ticks - start.procs[name]) / TICKS_PER_S / wallS;
    }
    const deployment = Object.values(processes).reduce((a, b) => a + b, 0);
    const bench = (end.benchUs - start.benchUs) / 1e6 / wallS;
    const machine =
      ((end.machineBusy - start.machineBusy) / (end.machineTotal - start.machineTotal)) * os.cpus().length;
    return { processes, deployment, bench, machine, others: Math.max(0, machine - deployment - bench) };
  }
}
