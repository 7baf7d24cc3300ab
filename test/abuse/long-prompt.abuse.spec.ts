import { LIMITS, type TaskAccepted } from '@gooseherd/contracts';
import {
  sleep,
  waitFor,
  useCluster,
  type GooseherdCluster,
  readTaskEventStream,
  exactLengthTask,
  waitForProgress,
} from '@gooseherd/test-kit';

// Long prompts: the input limit counts UTF-8 bytes, a cancel or delete reaches a prompt while it is being
// fed (not after it), and the worker refuses a prompt past its token limit with a clear error.

/** The prompt: 32,768 `€` are 32,768 UTF-16 units but 98,304 bytes (and byte-level tokens). */
const EURO_PROMPT = '€'.repeat(32_768);
const MAX_PROMPT_TOKENS = 100_000;

describe('long prompts', () => {
  // One segment at a time, so the worker being free again shows that a stopped prompt stopped.
  const cluster = useCluster({
    workers: 1,
    workerConcurrency: 1,
    env: { GOOSEHERD_MAX_PROMPT_TOKENS: String(MAX_PROMPT_TOKENS) },
  });

  /**
   * A task whose stored input is `input`, past what the API now accepts (as a task accepted under the old
   * limit would be): submitted short while a blocker holds the agent, its input rewritten in Redis, then the
   * blocker cancelled so the task starts.
   */
  async function taskWithStoredInput(
    c: GooseherdCluster,
    input: string,
  ): Promise<TaskAccepted & { agentId: string }> {
    const agent = await c.alice.createAgent();
    const blocker = await c.alice.submitTask(agent.id, exactLengthTask(3_000));
    await waitForProgress(c.alice, blocker.id, 1);
    const task = await c.alice.submitTask(agent.id, { input: 'short', maxTokens: 4 });
    await c.redis.redis().hset(`${c.settings.prefix}:task:${task.id}`, 'input', input);
    await c.alice.cancelTask(blocker.id);
    return { ...task, agentId: agent.id };
  }

  it('refuses an input past the limit in UTF-8 bytes (the 98,304-byte € prompt), naming the field', async () => {
    const c = cluster();
    const agent = await c.alice.createAgent();
    const res = await c.alice.request<{ errors: { field: string; message: string }[] }>(
      'POST',
      `/v1/agents/${agent.id}/tasks`,
      { input: EURO_PROMPT, maxTokens: 4 },
    );
    expect({ status: res.status, contentType: res.contentType }).toEqual({
      status: 400,
      contentType: expect.stringMatching(/^application\/problem\+json/),
    });
    expect(res.body.errors).toEqual([
      expect.objectContaining({ field: 'input', message: `at most ${LIMITS.inputBytes} bytes of UTF-8` }),
    ]);
    const fits = '€'.repeat(Math.floor(LIMITS.inputBytes / 3));
    const accepted = await c.alice.submitTask(agent.id, { input: fits, maxTokens: 1 });
    expect(accepted.status).toBe('queued');
    await c.alice.cancelTask(accepted.id);
  });

  it('a cancel lands within 1 s while a 98,304-token prompt is being fed; the agent keeps its state', async () => {
    const c = cluster();
    const task = await taskWithStoredInput(c, EURO_PROMPT);
    const before = await waitFor(
      async () => {
        const t = await c.alice.getTask(task.id);
        return t.status === 'running' && t;
      },
      { timeoutMs: 30_000, what: `task ${task.id} to start`, intervalMs: 20 },
    );
    await sleep(1_000); // well into the prompt (feeding all of it takes tens of seconds here)
    const agentBefore = await c.alice.getAgent(task.agentId);
    const cancelledAt = Date.now();
    await c.alice.cancelTask(task.id);
    const ended = await c.alice.waitForTask(task.id, { timeoutMs: 10_000, what: `task ${task.id} to end` });
    const latencyMs = Date.now() - cancelledAt;
    expect(ended.status).toBe('cancelled');
    expect(latencyMs).toBeLessThan(1_000);
    expect(before.tokensOut).toBe(0);
    // The half-fed prompt is dropped: the agent's state is the one before this task.
    const agentAfter = await c.alice.getAgent(task.agentId);
    expect(agentAfter.tokensSeen).toBe(agentBefore.tokensSeen);
    const log = await readTaskEventStream(c.baseUrl, c.keys.alice, task.id, { timeoutMs: 5_000 });
    expect(log.messages.map((m) => m.taskEvent.kind)).toEqual(['queued', 'started', 'cancelled']);
    // And it runs its next task.
    const next = await c.alice.submitTask(task.agentId, exactLengthTask(4));
    expect((await c.alice.waitForSuccess(next.id, 30_000)).tokensOut).toBe(4);
  });

  it('deleting the agent stops its prompt within 1 s', async () => {
    const c = cluster();
    const task = await taskWithStoredInput(c, EURO_PROMPT);
    await waitFor(async () => (await c.alice.getTask(task.id)).status === 'running', {
      timeoutMs: 30_000,
      what: `task ${task.id} to start`,
      intervalMs: 20,
    });
    await sleep(1_000);
    const deletedAt = Date.now();
    expect((await c.alice.request('DELETE', `/v1/agents/${task.agentId}`)).status).toBe(204);
    // The worker is free again within 1 s: another agent's task starts and runs.
    const other = await c.alice.createAgent();
    const probe = await c.alice.submitTask(other.id, exactLengthTask(1));
    await c.alice.waitForSuccess(probe.id, 10_000);
    expect(Date.now() - deletedAt).toBeLessThan(1_500);
  });

  it('the worker refuses a prompt past GOOSEHERD_MAX_PROMPT_TOKENS with a clear task error; the next task runs', async () => {
    const c = cluster();
    const task = await taskWithStoredInput(c, 'y'.repeat(MAX_PROMPT_TOKENS + 10));
    const failed = await c.alice.waitForTask(task.id, { timeoutMs: 30_000, what: `task ${task.id} to end` });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      new RegExp(
        `^the prompt is \\d+ tokens, more than this worker's limit of ${MAX_PROMPT_TOKENS} \\(GOOSEHERD_MAX_PROMPT_TOKENS\\)$`,
      ),
    );
    const next = await c.alice.submitTask(task.agentId, exactLengthTask(4));
    expect((await c.alice.waitForSuccess(next.id, 30_000)).tokensOut).toBe(4);
  });
});
