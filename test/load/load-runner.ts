import * as os from 'node:os';
import autocannon from 'autocannon';
import type { EventDataMap, TaskView } from '@gooseherd/contracts';
import { exactLengthTask, sequenceProblems, streamedText, type GooseherdCluster } from '@gooseherd/test-kit';

/**
 * Load phases against a running cluster, shared by the benchmark (`npm run bench:load`) and its Jest smoke
 * version: autocannon against REST endpoints, and many WebSocket subscribers on running tasks.
 */

export interface RestPhaseResult {
  phase: string;
  connections: number;
  durationS: number;
  requests: number;
  /** Mean requests per second over the phase. */
  reqPerS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

export interface RestPhase {
  phase: string;
  method: 'GET' | 'POST';
  /** Paths cycled through, one per request (many agents, many tasks). */
  paths: string[];
  body?: string;
  connections: number;
  durationS: number;
}

/** One autocannon run: `connections` keep-alive connections for `durationS`, cycling through `paths`. */
export async function restPhase(
  cluster: GooseherdCluster,
  apiKey: string,
  spec: RestPhase,
): Promise<RestPhaseResult> {
  let next = 0;
  const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
  if (spec.body !== undefined) headers['content-type'] = 'application/json';
  const result = await autocannon({
    url: cluster.baseUrl,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: 10,
    headers,
    requests: [
      {
        method: spec.method,
        body: spec.body,
        setupRequest: (req) => ({ ...req, path: spec.paths[next++ % spec.paths.length] }),
      },
    ],
  });
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {}))
    statusCodes[code] = stat.count ?? 0;
  return {
    phase: spec.phase,
    connections: spec.connections,
    durationS: result.duration,
    requests: result.requests.total,
    reqPerS: Math.round(result.requests.total / result.duration),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

export interface WsPhaseResult {
  phase: string;
  sockets: number;
  tasks: number;
  tokensPerTask: number;
  /** From the first subscribe to the last final event received. */
  seconds: number;
  eventFrames: number;
  framesPerS: number;
  /** Events a socket should have received (seq 1…final of its task) but did not. */
  dropped: number;
  /** Events a socket received more than once. */
  duplicates: number;
  /** Sockets whose streamed text differs from the task's output. */
  outputMismatches: number;
  /** Sockets that closed before their task's final event. */
  closedEarly: number;
  /** Time from an event being written (its `at`) to a socket receiving it. */
  deliveryLagMs: { p50: number; p99: number; max: number };
  /** Any other problem, described (bounded). */
  problems: string[];
}

export interface WsPhase {
  sockets: number;
  tasks: number;
  tokensPerTask: number;
  /** Deadline for every task to finish. */
  timeoutMs: number;
}

/**
 * `tasks` agents each run a task of `tokensPerTask` tokens; `sockets` WebSocket connections (spread evenly
 * over the tasks) subscribe to them from seq 0 while they run, and each must receive its task's whole log:
 * every seq once, in order, ending in `completed`, its token texts adding up to the task's output.
 */
export async function wsPhase(cluster: GooseherdCluster, spec: WsPhase): Promise<WsPhaseResult> {
  const client = cluster.alice;
  const agents = await inBatches(spec.tasks, 32, () => client.createAgent());
  const sockets = await inBatches(spec.sockets, 50, () => cluster.openSocket('alice'));
  const tasks = await Promise.all(
    agents.map((a) => client.submitTask(a.id, exactLengthTask(spec.tokensPerTask, 'Count the geese.'))),
  );
  const taskOf = (i: number) => tasks[i % tasks.length].id;
  const started = Date.now();
  const answers = await Promise.all(sockets.map((s, i) => s.subscribe({ taskId: taskOf(i) })));
  const problems = answers
    .map((a, i) => (a.type === 'subscribed' ? '' : `socket ${i}: ${JSON.stringify(a)}`))
    .filter(Boolean);
  let closedEarly = 0;
  await Promise.all(
    sockets.map((s, i) =>
      s.waitForFinalEvent(taskOf(i), spec.timeoutMs).catch((err: Error) => {
        closedEarly += s.closed ? 1 : 0;
        if (problems.length < 20) problems.push(`socket ${i}: ${err.message}`);
      }),
    ),
  );
  const records = new Map<string, TaskView>();
  for (const t of tasks) records.set(t.id, await client.getTask(t.id));

  let eventFrames = 0;
  let dropped = 0;
  let duplicates = 0;
  let outputMismatches = 0;
  let lastArrival = started;
  const lags: number[] = [];
  sockets.forEach((s, i) => {
    const taskId = taskOf(i);
    const timed = s.timedEvents(taskId);
    const events = timed.map((t) => t.event);
    eventFrames += events.length;
    for (const t of timed) {
      lags.push(t.receivedAt - Date.parse(t.event.at));
      lastArrival = Math.max(lastArrival, t.receivedAt);
    }
    const seqs = new Set(events.map((e) => e.seq));
    duplicates += events.length - seqs.size;
    const final = events.find((e) => e.kind === 'completed' || e.kind === 'failed' || e.kind === 'cancelled');
    const lastSeq = final?.seq ?? Math.max(0, ...seqs);
    for (let seq = 1; seq <= lastSeq; seq++) if (!seqs.has(seq)) dropped += 1;
    const record = records.get(taskId)!;
    if (streamedText(events) !== record.output) outputMismatches += 1;
    const order = sequenceProblems(events);
    if (order.length > 0 && problems.length < 20)
      problems.push(`socket ${i}: ${order.slice(0, 3).join('; ')}`);
    if (final?.kind !== 'completed' && problems.length < 20) {
      problems.push(`socket ${i}: task ${taskId} ended ${final?.kind ?? 'not at all'} (${record.status})`);
    }
    if (final?.kind === 'completed') {
      const done = final.data as EventDataMap['completed'];
      if (done.tokensOut !== spec.tokensPerTask && problems.length < 20) {
        problems.push(`socket ${i}: task ${taskId} completed with ${done.tokensOut} tokens`);
      }
    }
  });
  await Promise.all(sockets.map((s) => s.close()));
  const seconds = Math.max(0.001, (lastArrival - started) / 1000);
  return {
    phase: 'WebSocket subscribers on running tasks',
    sockets: spec.sockets,
    tasks: spec.tasks,
    tokensPerTask: spec.tokensPerTask,
    seconds,
    eventFrames,
    framesPerS: Math.round(eventFrames / seconds),
    dropped,
    duplicates,
    outputMismatches,
    closedEarly,
    deliveryLagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: Math.max(0, ...lags) },
    problems,
  };
}

/** Creates `count` things, `batch` at a time. */
export async function inBatches<T>(count: number, batch: number, make: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += batch) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - i) }, make))));
  }
  return out;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The machine the figures were measured on. */
export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cpus: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.platform()} ${os.release()}`,
    node: process.version,
  };
}

/** A fixed-width table of REST phases and the WebSocket phase, for the terminal and the README. */
export function formatTable(rest: RestPhaseResult[], ws: WsPhaseResult[]): string {
  const rows = [
    ['phase', 'conns', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'requests', 'non-2xx', 'errors'],
    ...rest.map((r) => [
      r.phase,
      String(r.connections),
      String(r.reqPerS),
      String(r.latencyMs.p50),
      String(r.latencyMs.p99),
      String(r.latencyMs.max),
      String(r.requests),
      String(r.non2xx),
      String(r.errors),
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const wsRows = ws.map(
    (w) =>
      `${w.sockets} sockets on ${w.tasks} tasks × ${w.tokensPerTask} tokens: ${w.eventFrames} event frames in ` +
      `${w.seconds.toFixed(1)} s = ${w.framesPerS} frames/s; delivery lag p50 ${w.deliveryLagMs.p50} ms, ` +
      `p99 ${w.deliveryLagMs.p99} ms; dropped ${w.dropped}, duplicates ${w.duplicates}, output mismatches ` +
      `${w.outputMismatches}, closed early ${w.closedEarly}`,
  );
  return [...(rest.length > 0 ? rows.map(line) : []), ...wsRows].join('\n');
}
