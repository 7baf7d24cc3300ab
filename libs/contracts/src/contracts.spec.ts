import { configuredApiKeys, loadEnv } from './config.js';
import { LIMITS } from './limits.js';
import { CreateAgentSchema, CreateTaskSchema } from './rest-schemas.js';
import { SubscribeFrameSchema } from './ws-frames.js';

const fields = (r: { success: boolean; error?: { issues: { path: PropertyKey[] }[] } }) =>
  r.error?.issues.map((i) => i.path.join('.')) ?? [];

describe('REST schemas', () => {
  it('accepts a minimal task and names every bad field by its path', () => {
    expect(CreateTaskSchema.safeParse({ input: 'hi' }).success).toBe(true);
    const bad = CreateTaskSchema.safeParse({
      input: '',
      maxTokens: LIMITS.maxTokens + 1,
      stop: ['ok', ''],
      sampling: { topP: 1.5, logitBias: { x: 1 } },
    });
    expect(fields(bad).sort()).toEqual([
      'input',
      'maxTokens',
      'sampling.logitBias.x',
      'sampling.topP',
      'stop.1',
    ]);
  });

  it('refuses unknown fields instead of ignoring them', () => {
    expect(fields(CreateAgentSchema.safeParse({ modle: 'x' }))).toEqual(['']);
    expect(CreateAgentSchema.safeParse({ modle: 'x' }).error?.issues[0].message).toMatch(/modle/);
  });

  it('bounds the input length', () => {
    expect(CreateTaskSchema.safeParse({ input: 'x'.repeat(LIMITS.inputChars) }).success).toBe(true);
    expect(fields(CreateTaskSchema.safeParse({ input: 'x'.repeat(LIMITS.inputChars + 1) }))).toEqual([
      'input',
    ]);
  });
});

describe('WebSocket frames', () => {
  it('wants exactly one of taskId and agentId', () => {
    expect(SubscribeFrameSchema.safeParse({ type: 'subscribe', taskId: 't', after: 3 }).success).toBe(true);
    expect(fields(SubscribeFrameSchema.safeParse({ type: 'subscribe' }))).toEqual(['taskId']);
    expect(fields(SubscribeFrameSchema.safeParse({ type: 'subscribe', taskId: 't', agentId: 'a' }))).toEqual([
      'taskId',
    ]);
    expect(fields(SubscribeFrameSchema.safeParse({ type: 'subscribe', taskId: 't', after: -1 }))).toEqual([
      'after',
    ]);
  });
});

describe('environment', () => {
  it('fills the documented defaults', () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 8080,
      GOOSEHERD_CHECKPOINT_TOKENS: 32,
      GOOSEHERD_REDIS_PREFIX: 'gh',
    });
  });

  it('names every bad variable in one error', () => {
    expect(() => loadEnv({ PORT: 'eighty', GOOSEHERD_CHECKPOINT_TOKENS: '0' })).toThrow(
      /PORT[\s\S]*GOOSEHERD_CHECKPOINT_TOKENS|GOOSEHERD_CHECKPOINT_TOKENS[\s\S]*PORT/,
    );
  });

  it('maps the API key variables to tenants', () => {
    const env = loadEnv({
      GOOSEHERD_API_KEY: 'k'.repeat(16),
      GOOSEHERD_API_KEYS: `alice:${'a'.repeat(16)},bob:${'b'.repeat(20)}`,
    });
    expect(configuredApiKeys(env)).toEqual([
      ['default', 'k'.repeat(16)],
      ['alice', 'a'.repeat(16)],
      ['bob', 'b'.repeat(20)],
    ]);
    expect(() => loadEnv({ GOOSEHERD_API_KEYS: 'alice:short' })).toThrow(/GOOSEHERD_API_KEYS/);
  });
});
