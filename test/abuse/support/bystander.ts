import type { TaskView } from '@gooseherd/contracts';
import {
  ApiClient,
  exactLengthTask,
  sequenceProblems,
  streamedText,
  summarize,
  type EventSocket,
  type GooseherdCluster,
} from '@gooseherd/test-kit';

/**
 * Another tenant's task that runs while an abuse case happens: it is submitted and watched on its own
 * WebSocket before the abuse starts, and checked after it: it must succeed with every event delivered once,
 * in order, and the streamed text equal to its output. Each check uses a handful of requests, so it also
 * works under a low rate limit.
 */
export class Bystander {
  private constructor(
    private readonly cluster: GooseherdCluster,
    readonly tenant: 'alice' | 'bob' | 'default',
    readonly taskId: string,
    readonly tokens: number,
    private readonly socket: EventSocket,
  ) {}

  /** Submits the task, subscribes, and resolves once it has streamed its first token (it is running). */
  static async start(
    cluster: GooseherdCluster,
    options: { tenant?: 'bob' | 'default'; tokens?: number } = {},
  ): Promise<Bystander> {
    const tenant = options.tenant ?? 'bob';
    const tokens = options.tokens ?? 600;
    const client = clientFor(cluster, tenant);
    const agent = await client.createAgent();
    const socket = await cluster.openSocket(tenant);
    const accepted = await client.submitTask(agent.id, exactLengthTask(tokens, 'A bystander walks by.'));
    const answer = await socket.subscribe({ taskId: accepted.id });
    if (answer.type !== 'subscribed') throw new Error(`bystander subscribe: ${JSON.stringify(answer)}`);
    await socket.waitForFrame((f) => f.type === 'event' && f.taskId === accepted.id && f.kind === 'token', {
      timeoutMs: 60_000,
      what: `the first token of ${tenant}'s bystander task`,
    });
    return new Bystander(cluster, tenant, accepted.id, tokens, socket);
  }

  /** Milliseconds from each of the task's events being stored (`at`) to its arrival on the socket. */
  receivedLatencies(): number[] {
    return this.socket
      .timedEvents(this.taskId)
      .map(({ event, receivedAt }) => receivedAt - Date.parse(event.at));
  }

  /** Waits for the final event and checks the task and its stream; returns the task record. */
  async verify(timeoutMs = 60_000): Promise<TaskView> {
    const final = await this.socket.waitForFinalEvent(this.taskId, timeoutMs);
    const client = clientFor(this.cluster, this.tenant);
    const task = await client.getTask(this.taskId);
    const events = this.socket.events({ taskId: this.taskId });
    const report = {
      final: final.kind,
      status: task.status,
      tokensOut: task.tokensOut,
      sequence: sequenceProblems(events),
      streamedEqualsOutput: streamedText(events) === task.output,
    };
    const expected = {
      final: 'completed',
      status: 'succeeded',
      tokensOut: this.tokens,
      sequence: [],
      streamedEqualsOutput: true,
    };
    if (JSON.stringify(report) !== JSON.stringify(expected)) {
      throw new Error(
        `${this.tenant}'s bystander task ${this.taskId} was disturbed: ${JSON.stringify(report)} (${summarize(events)})`,
      );
    }
    await this.socket.close();
    return task;
  }
}

/** The REST client of any of the cluster's tenants. */
export function clientFor(cluster: GooseherdCluster, tenant: 'alice' | 'bob' | 'default'): ApiClient {
  return new ApiClient(cluster.baseUrl, cluster.keys[tenant]);
}

/** Runs `abuse` while another tenant's task streams, then checks that task; returns what `abuse` returned. */
export async function whileBystanderRuns<T>(
  cluster: GooseherdCluster,
  abuse: () => Promise<T>,
  options: { tenant?: 'bob' | 'default'; tokens?: number } = {},
): Promise<T> {
  const bystander = await Bystander.start(cluster, options);
  const result = await abuse();
  await bystander.verify();
  return result;
}
