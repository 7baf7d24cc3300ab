import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ManagedProcess } from '@gooseherd/test-kit';

/** Seeded randomness, reporting and process bookkeeping shared by the chaos tests. */

/**
 * A seeded generator (mulberry32): GOOSEHERD_CHAOS_SEED replays a run's choices (which worker, when); the
 * processes' timing still varies from run to run.
 */
export class Rng {
  readonly seed: number;
  private state: number;

  constructor(seed = Number(process.env.GOOSEHERD_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31))) {
    this.seed = seed;
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }
}

/** Where each test's last report is also written as JSON. */
export const RESULTS_DIR =
  process.env.GOOSEHERD_CHAOS_RESULTS_DIR ?? path.join(os.tmpdir(), 'gooseherd-chaos-results');

/**
 * Prints a test's report (what ran, what was done to it, what was lost) to stderr, where Jest shows it as it
 * comes, and writes it to RESULTS_DIR/<name>.json.
 */
export function report(name: string, fields: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  const lines = Object.entries(fields).map(
    ([k, v]) => `  ${k.padEnd(width)}  ${typeof v === 'string' ? v : JSON.stringify(v)}`,
  );
  process.stderr.write(`\n┌─ chaos report: ${name}\n${lines.join('\n')}\n└─\n`);
  try {
    fs.mkdirSync(RESULTS_DIR, { recursive: true });
    fs.writeFileSync(
      path.join(RESULTS_DIR, `${name}.json`),
      JSON.stringify({ name, at: new Date().toISOString(), ...fields }, null, 2),
    );
  } catch {
    // The report on stderr is what matters.
  }
}

/** min / median / max of a list, for reports. */
export function spread(values: number[]): { min: number; median: number; max: number } | 'none' {
  if (values.length === 0) return 'none';
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
}

/** Counts of each distinct item. */
export function tally(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[item] = (out[item] ?? 0) + 1;
  return out;
}

/** Warnings and errors in processes' JSON logs (pino), counted by level and message. */
export function logFindings(procs: ManagedProcess[], minLevel = 40): Record<string, number> {
  const found: string[] = [];
  for (const proc of procs) {
    let text = '';
    try {
      text = fs.readFileSync(proc.logPath, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown };
        if ((entry.level ?? 0) < minLevel) continue;
        const level = entry.level! >= 50 ? 'error' : 'warn';
        const err = typeof entry.err === 'string' ? `: ${entry.err.slice(0, 80)}` : '';
        // Ids and ports vary from run to run; counting by the rest groups alike lines.
        const text = `${level} ${entry.msg ?? '?'}${err}`
          .replace(/(agt|tsk)_[\w-]{22}(\.\d+)?/g, '$1_…')
          .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:…');
        found.push(text);
      } catch {
        // Not JSON: a stack trace line or the like.
      }
    }
  }
  return tally(found);
}

/** The worker of a task record's `worker` field (`name:pid`) among `workers`, if any. */
export function workerNamed(workers: ManagedProcess[], field: string | null): ManagedProcess | undefined {
  if (!field) return undefined;
  return workers.find(
    (w) => field === w.name || field.startsWith(`${w.name}:`) || field.endsWith(`:${w.pid}`),
  );
}

/** Ms since `t0`, for reports. */
export function since(t0: number): number {
  return Date.now() - t0;
}
