import { configuredApiKeys, loadEnv } from './config.js';
import { LIMITS, utf8ByteLength } from './limits.js';
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

  it('names the model after GOOSEHERD_MODEL unless GOOSEHERD_MODEL_NAME is set', () => {
    expect(loadEnv({}).GOOSEHERD_MODEL_NAME).toBe('rwkv7-embedded-random');
    expect(loadEnv({ GOOSEHERD_MODEL: 'rwkv7-g1-0.4b' }).GOOSEHERD_MODEL_NAME).toBe('rwkv7-g1-0.4b');
    expect(
      loadEnv({ GOOSEHERD_MODEL: 'rwkv7-g1-0.4b', GOOSEHERD_MODEL_NAME: 'g1' }).GOOSEHERD_MODEL_NAME,
    ).toBe('g1');
    expect(loadEnv({}).GOOSEHERD_HF_ENDPOINT).toBe('https://huggingface.co');
    expect(() => loadEnv({ GOOSEHERD_MODEL: '../etc/passwd' })).toThrow(
      /GOOSEHERD_MODEL: expected a catalogue name/,
    );
    expect(() => loadEnv({ GOOSEHERD_HF_ENDPOINT: 'not a url' })).toThrow(/GOOSEHERD_HF_ENDPOINT/);
  });
});

describe('input limits count UTF-8 bytes', () => {
  it('counts bytes as TextEncoder writes them', () => {
    for (const s of ['', 'x', 'é', '€', '😀', 'a€😀b', '\ud800', '\udc00x', '\ud800\ud800']) {
      expect(utf8ByteLength(s)).toBe(new TextEncoder().encode(s).length);
    }
  });

  it('refuses an input of multi-byte characters past the byte limit, naming the field', () => {
    const euros = Math.floor(LIMITS.inputBytes / 3);
    expect(CreateTaskSchema.safeParse({ input: '€'.repeat(euros) }).success).toBe(true);
    const tooMany = CreateTaskSchema.safeParse({ input: '€'.repeat(euros + 1) });
    expect(fields(tooMany)).toEqual(['input']);
    expect(tooMany.error?.issues[0].message).toBe(`at most ${LIMITS.inputBytes} bytes of UTF-8`);
    // The issue's case: 32,768 € (98,304 bytes) passed a limit counted in UTF-16 units.
    expect(fields(CreateTaskSchema.safeParse({ input: '€'.repeat(32_768) }))).toEqual(['input']);
    expect(fields(CreateAgentSchema.safeParse({ system: '€'.repeat(LIMITS.systemBytes) }))).toEqual([
      'system',
    ]);
  });
});
