import {
  NO_END_OF_TEXT,
  type ApiClient,
  type EventFrame,
  type EventSocket,
  type GooseherdCluster,
} from '@gooseherd/test-kit';

/**
 * What one agent costs in Redis and in decode time as its context grows: the measurement behind
 * `npm run bench:scale -- --memory` and `agent-memory.spec.ts`.
 */

/** Characters of task input the API accepts (contracts' LIMITS.inputChars). */
export const MAX_INPUT_CHARS = 32_768;

/** Bytes Redis holds for one agent's keys (`MEMORY USAGE … SAMPLES 0`; 0 for a key that does not exist). */
export interface AgentFootprint {
  /** GET /v1/agents/{id}: tokens the agent's state has consumed. */
  tokensSeen: number;
  stateVersion: number;
  /** `{p}:agent:{id}` HASH: the record, scheduling fields, checkpoint metadata. */
  hashBytes: number;
  /** `{p}:agent:{id}:state` STRING: the recurrent state blob (the allocator rounds it up to its size class). */
  stateBytes: number;
  /** STRLEN of the state blob: the encoded state itself. */
  stateBlobLength: number;
  /** `{p}:agent:{id}:mailbox` LIST of waiting task ids (Redis deletes an empty list: 0 when idle). */
  mailboxBytes: number;
  /** hash + state + mailbox: what the agent itself takes. */
  agentBytes: number;
  /** `{p}:agent:{id}:events` STREAM, the agent-wide event log, capped at ~2,000 entries (MAXLEN ~). */
  eventsBytes: number;
  eventsEntries: number;
}

export async function agentFootprint(
  cluster: GooseherdCluster,
  client: ApiClient,
  agentId: string,
): Promise<AgentFootprint> {
  const redis = cluster.redis.redis();
  const base = `${cluster.settings.prefix}:agent:${agentId}`;
  const usage = async (key: string) =>
    Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
  const agent = await client.getAgent(agentId);
  const [hashBytes, stateBytes, stateBlobLength, mailboxBytes, eventsBytes, eventsEntries] =
    await Promise.all([
      usage(base),
      usage(`${base}:state`),
      redis.strlen(`${base}:state`),
      usage(`${base}:mailbox`),
      usage(`${base}:events`),
      redis.xlen(`${base}:events`),
    ]);
  return {
    tokensSeen: agent.tokensSeen,
    stateVersion: agent.stateVersion,
    hashBytes,
    stateBytes,
    stateBlobLength,
    mailboxBytes,
    agentBytes: hashBytes + stateBytes + mailboxBytes,
    eventsBytes,
    eventsEntries,
  };
}

/** ASCII filler of exactly `chars` characters: one token per character with the byte-level tokenizer. */
export function fillerText(chars: number, salt = 0): string {
  const words = ['goose', 'pond', 'reed', 'feather', 'honk', 'wing', 'river', 'grass', 'egg', 'flock'];
  let text = '';
  for (let i = salt; text.length < chars; i++) text += words[(i * 7) % words.length] + ' ';
  return text.slice(0, chars);
}

/** Waits for the final event of each task (one waiter, so it stays cheap with thousands of frames). */
export async function waitForFinal(
  socket: EventSocket,
  taskIds: readonly string[],
  options: { fromIndex: number; timeoutMs: number; what: string },
): Promise<Map<string, EventFrame>> {
  const wanted = new Set(taskIds);
  const finals = new Map<string, EventFrame>();
  await socket.waitForFrame(
    (f) => {
      if (f.type !== 'event' || !wanted.has(f.taskId)) return false;
      if (f.kind === 'completed' || f.kind === 'failed' || f.kind === 'cancelled') finals.set(f.taskId, f);
      return finals.size === wanted.size;
    },
    { timeoutMs: options.timeoutMs, what: options.what, fromIndex: options.fromIndex },
  );
  const bad = [...finals.values()].filter((f) => f.kind !== 'completed');
  if (bad.length > 0) {
    throw new Error(`${bad.length} task(s) did not complete, e.g. ${JSON.stringify(bad[0])}`);
  }
  return finals;
}

/** Server-side times of one task's `started` and `completed` events (ms since epoch). */
function serverSpan(socket: EventSocket, taskId: string): { started: number; completed: number } {
  const events = socket.events({ taskId });
  const started = events.find((e) => e.kind === 'started');
  const completed = events.find((e) => e.kind === 'completed');
  if (!started || !completed) throw new Error(`task ${taskId}: no started/completed event on the socket`);
  return { started: Date.parse(started.at), completed: Date.parse(completed.at) };
}

export interface FeedResult {
  tasks: number;
  /** tokensSeen grew by this much. */
  tokens: number;
  /** Client wall time from the first submit to the last completion. */
  wallMs: number;
  /** Sum of the tasks' server time (started → completed): prefill of the input plus one token. */
  serverMs: number;
}

/**
 * Grows the agent's context to at least `targetTokens` with tasks of up to 32,768 input characters and
 * `maxTokens: 1`, all submitted at once (they queue in the agent's mailbox and run in order). `socket` must be
 * subscribed to the agent.
 */
export async function feedContext(
  client: ApiClient,
  socket: EventSocket,
  agentId: string,
  targetTokens: number,
  timeoutMs: number,
): Promise<FeedResult> {
  const before = (await client.getAgent(agentId)).tokensSeen;
  // "User: " + input + "\n\nAssistant:" and the closing separator: a few tokens besides the input.
  const framing = 24;
  const inputs: string[] = [];
  for (let planned = before; planned < targetTokens;) {
    const chars = Math.max(1, Math.min(MAX_INPUT_CHARS, targetTokens - planned - framing));
    inputs.push(fillerText(chars, inputs.length));
    planned += chars + framing;
  }
  const since = socket.received.length;
  const t0 = Date.now();
  const ids: string[] = [];
  for (const input of inputs) {
    const task = await client.submitTask(agentId, {
      input,
      maxTokens: 1,
      stop: [],
      sampling: NO_END_OF_TEXT,
    });
    ids.push(task.id);
  }
  await waitForFinal(socket, ids, {
    fromIndex: since,
    timeoutMs,
    what: `${ids.length} context-feeding task(s) of agent ${agentId} to complete`,
  });
  const wallMs = Date.now() - t0;
  const serverMs = ids.reduce((sum, id) => {
    const span = serverSpan(socket, id);
    return sum + span.completed - span.started;
  }, 0);
  const after = (await client.getAgent(agentId)).tokensSeen;
  return { tasks: ids.length, tokens: after - before, wallMs, serverMs };
}

export interface DecodeSample {
  tokensOut: number;
  /** Server time from `started` to `completed`. */
  ms: number;
  /** ms / tokensOut: the whole task (restore, prompt, decode, checkpoints, finish) per generated token. */
  msPerToken: number;
  /**
   * Decode alone: from the first `token` write to the last, per token in between (writes are batched every
   * 15 ms, so this is ±15 ms over the task).
   */
  decodeMsPerToken: number;
}

/** One task of `tokens` generated tokens on the agent; its tokensOut / (completed − started). */
export async function decodeSample(
  client: ApiClient,
  socket: EventSocket,
  agentId: string,
  tokens: number,
  timeoutMs = 120_000,
): Promise<DecodeSample> {
  const since = socket.received.length;
  const task = await client.submitTask(agentId, {
    input: 'Honk.',
    maxTokens: tokens,
    stop: [],
    sampling: NO_END_OF_TEXT,
  });
  const finals = await waitForFinal(socket, [task.id], {
    fromIndex: since,
    timeoutMs,
    what: `the ${tokens}-token decode task of agent ${agentId}`,
  });
  const completed = finals.get(task.id) as EventFrame & { kind: 'completed' };
  const tokensOut = (completed.data as { tokensOut: number }).tokensOut;
  const span = serverSpan(socket, task.id);
  const ms = span.completed - span.started;
  const writes = socket.events({ taskId: task.id }).filter((e) => e.kind === 'token');
  const [first, last] = [writes[0], writes.at(-1)!];
  const between =
    (last.data as { tokensOut: number }).tokensOut - (first.data as { tokensOut: number }).tokensOut;
  const decodeMsPerToken = (Date.parse(last.at) - Date.parse(first.at)) / Math.max(1, between);
  return { tokensOut, ms, msPerToken: ms / tokensOut, decodeMsPerToken };
}

export interface ContextPoint {
  /** The target this point was taken at (tokensSeen ≥ target). */
  target: number;
  footprint: AgentFootprint;
  /** Feeding from the previous point to this one. */
  feed: FeedResult;
  decode: DecodeSample[];
  /** Medians over `decode`. */
  msPerToken: number;
  decodeMsPerToken: number;
}

/**
 * The long-context agent against a fresh one (context ~1k), decode samples taken alternately so that both see
 * the same machine: on a shared machine, samples taken minutes apart differ more than any effect of context.
 */
export interface InterleavedDecode {
  rounds: number;
  long: { tokensSeen: number; msPerToken: number; decodeMsPerToken: number };
  fresh: { tokensSeen: number; msPerToken: number; decodeMsPerToken: number };
  /** long ÷ fresh, of the decode-alone medians. */
  ratio: number;
}

export interface ContextGrowth {
  agentId: string;
  points: ContextPoint[];
  /** After one long task: the agent's event stream hits its cap (entries, bytes). */
  eventCap?: { tokens: number; before: AgentFootprint; after: AgentFootprint };
  /** One 32,768-character feeding task's own keys (kept for GOOSEHERD_TASK_TTL_S, then gone). */
  bigTaskBytes: number;
  interleaved?: InterleavedDecode;
}

const medianOf = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Creates one agent and grows its context through `targets` (tokensSeen), taking at each point the agent's
 * Redis footprint and `decodeRepeats` decode samples of `decodeTokens` tokens. With `eventCapTokens`, one
 * more task of that many tokens shows the agent's event stream at its cap.
 */
export async function measureContextGrowth(
  cluster: GooseherdCluster,
  client: ApiClient,
  socket: EventSocket,
  options: {
    targets: readonly number[];
    decodeTokens: number;
    decodeRepeats: number;
    eventCapTokens?: number;
    /** Rounds of alternating decode samples: the longest-context agent, then a fresh one. */
    interleavedRounds?: number;
    feedTimeoutMs: number;
    log?: (line: string) => void;
  },
): Promise<ContextGrowth> {
  const log = options.log ?? (() => undefined);
  const agent = await client.createAgent({});
  await socket.subscribe({ agentId: agent.id });
  // Warm-up, not measured: the worker's first decode of a shape is slower (JIT, engine allocations).
  await decodeSample(client, socket, agent.id, options.decodeTokens);
  const points: ContextPoint[] = [];
  for (const target of options.targets) {
    const feed = await feedContext(client, socket, agent.id, target, options.feedTimeoutMs);
    // Footprint first: the decode samples afterwards add a few hundred tokens, not part of this point.
    const footprint = await agentFootprint(cluster, client, agent.id);
    const decode: DecodeSample[] = [];
    for (let i = 0; i < options.decodeRepeats; i++) {
      decode.push(await decodeSample(client, socket, agent.id, options.decodeTokens));
    }
    const point = {
      target,
      footprint,
      feed,
      decode,
      msPerToken: medianOf(decode.map((d) => d.msPerToken)),
      decodeMsPerToken: medianOf(decode.map((d) => d.decodeMsPerToken)),
    };
    points.push(point);
    log(
      `tokensSeen ${footprint.tokensSeen}: agent ${footprint.agentBytes} B (hash ${footprint.hashBytes}, ` +
        `state ${footprint.stateBytes}, mailbox ${footprint.mailboxBytes}); events stream ${footprint.eventsEntries} ` +
        `entries ${footprint.eventsBytes} B; fed ${feed.tokens} tokens in ${feed.tasks} task(s), ${feed.wallMs} ms; ` +
        `task ${point.msPerToken.toFixed(2)} ms/token, decode alone ${point.decodeMsPerToken.toFixed(2)} ms/token`,
    );
  }
  let interleaved: InterleavedDecode | undefined;
  if (options.interleavedRounds) {
    const fresh = await client.createAgent({});
    await socket.subscribe({ agentId: fresh.id });
    await feedContext(client, socket, fresh.id, options.targets[0], options.feedTimeoutMs);
    await decodeSample(client, socket, fresh.id, options.decodeTokens); // warm-up of this agent's path
    const longSeen = (await client.getAgent(agent.id)).tokensSeen;
    const freshSeen = (await client.getAgent(fresh.id)).tokensSeen;
    const longSamples: DecodeSample[] = [];
    const freshSamples: DecodeSample[] = [];
    for (let r = 0; r < options.interleavedRounds; r++) {
      // ABBA order, so that a steady drift of the machine's speed favours neither.
      const order = r % 2 === 0 ? ([agent.id, fresh.id] as const) : ([fresh.id, agent.id] as const);
      for (const id of order) {
        const sample = await decodeSample(client, socket, id, options.decodeTokens);
        (id === agent.id ? longSamples : freshSamples).push(sample);
      }
    }
    const summary = (tokensSeen: number, xs: DecodeSample[]) => ({
      tokensSeen,
      msPerToken: medianOf(xs.map((d) => d.msPerToken)),
      decodeMsPerToken: medianOf(xs.map((d) => d.decodeMsPerToken)),
    });
    interleaved = {
      rounds: options.interleavedRounds,
      long: summary(longSeen, longSamples),
      fresh: summary(freshSeen, freshSamples),
      ratio:
        medianOf(longSamples.map((d) => d.decodeMsPerToken)) /
        medianOf(freshSamples.map((d) => d.decodeMsPerToken)),
    };
    log(
      `interleaved, ${interleaved.rounds} rounds: decode alone ${interleaved.long.decodeMsPerToken.toFixed(2)} ms/token ` +
        `at ${longSeen} tokens of context vs ${interleaved.fresh.decodeMsPerToken.toFixed(2)} at ${freshSeen} ` +
        `(ratio ${interleaved.ratio.toFixed(2)}); whole task ${interleaved.long.msPerToken.toFixed(2)} vs ` +
        `${interleaved.fresh.msPerToken.toFixed(2)}`,
    );
  }
  let eventCap: ContextGrowth['eventCap'];
  if (options.eventCapTokens) {
    const before = await agentFootprint(cluster, client, agent.id);
    await decodeSample(client, socket, agent.id, options.eventCapTokens, options.feedTimeoutMs);
    const after = await agentFootprint(cluster, client, agent.id);
    eventCap = { tokens: options.eventCapTokens, before, after };
    log(
      `after one ${options.eventCapTokens}-token task: events stream ${before.eventsEntries} → ${after.eventsEntries} ` +
        `entries, ${before.eventsBytes} → ${after.eventsBytes} B; agent ${before.agentBytes} → ${after.agentBytes} B`,
    );
  }
  // The keys of the largest feeding task (its hash holds the input text).
  const redis = cluster.redis.redis();
  const firstBig = socket
    .events({ agentId: agent.id })
    .find((e) => e.kind === 'completed' && (e.data as { tokensIn: number }).tokensIn > MAX_INPUT_CHARS / 2);
  let bigTaskBytes = 0;
  if (firstBig) {
    const base = `${cluster.settings.prefix}:task:${firstBig.taskId}`;
    for (const key of [base, `${base}:events`, `${base}:output`, `${base}:ids`]) {
      bigTaskBytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
    }
  }
  return { agentId: agent.id, points, eventCap, bigTaskBytes, interleaved };
}
