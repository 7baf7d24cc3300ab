import Redis from 'ioredis';
import {
  classifyRedisFailure,
  isTransientRedisFailure,
  retryAfterSeconds,
  type RedisFailureKind,
} from './redis-failure.js';
import {
  freePort,
  startPrivateRedisServer,
  type PrivateRedisServer,
} from './testing/private-redis-server.js';

function errnoError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}
function named(name: string, message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

// The messages are the ones Redis 7 and ioredis 5/6 write, copied from their sources and from runs.
const TABLE: [string, unknown, RedisFailureKind, string][] = [
  [
    'connection refused',
    errnoError('connect ECONNREFUSED 127.0.0.1:6379', 'ECONNREFUSED'),
    'unavailable',
    'ECONNREFUSED',
  ],
  ['connection reset', errnoError('read ECONNRESET', 'ECONNRESET'), 'unavailable', 'ECONNRESET'],
  ['connect timeout', errnoError('connect ETIMEDOUT', 'ETIMEDOUT'), 'unavailable', 'ETIMEDOUT'],
  ['broken pipe', errnoError('write EPIPE', 'EPIPE'), 'unavailable', 'EPIPE'],
  ['unknown host', errnoError('getaddrinfo ENOTFOUND redis', 'ENOTFOUND'), 'unavailable', 'ENOTFOUND'],
  ['DNS not answering', errnoError('getaddrinfo EAI_AGAIN redis', 'EAI_AGAIN'), 'unavailable', 'EAI_AGAIN'],
  [
    'host unreachable',
    errnoError('connect EHOSTUNREACH 10.0.0.9:6379', 'EHOSTUNREACH'),
    'unavailable',
    'EHOSTUNREACH',
  ],
  [
    'socket code only in the message',
    new Error('connect ECONNREFUSED 127.0.0.1:1'),
    'unavailable',
    'ECONNREFUSED',
  ],
  [
    'ioredis gave up retrying',
    named(
      'MaxRetriesPerRequestError',
      'Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.',
    ),
    'unavailable',
    'MaxRetriesPerRequestError',
  ],
  [
    'max retries, plain Error',
    new Error('Reached the max retries per request limit (which is 20).'),
    'unavailable',
    'MaxRetriesPerRequestError',
  ],
  ['connection closed', new Error('Connection is closed.'), 'unavailable', 'connection-closed'],
  [
    'offline queue off',
    new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    'unavailable',
    'stream-not-writeable',
  ],
  [
    'cluster not ready',
    new Error("Cluster isn't ready and enableOfflineQueue options is false"),
    'unavailable',
    'offline',
  ],
  ['command timeout', new Error('Command timed out'), 'unavailable', 'command-timeout'],
  [
    'cluster unreachable',
    named('ClusterAllFailedError', 'Failed to refresh slots cache.'),
    'unavailable',
    'ClusterAllFailedError',
  ],
  ['loading', new Error('LOADING Redis is loading the dataset in memory'), 'retry-later', 'LOADING'],
  [
    'read-only replica',
    new Error("READONLY You can't write against a read only replica."),
    'retry-later',
    'READONLY',
  ],
  [
    'master down',
    new Error("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."),
    'retry-later',
    'MASTERDOWN',
  ],
  [
    'out of memory',
    new Error("OOM command not allowed when used memory > 'maxmemory'."),
    'retry-later',
    'OOM',
  ],
  [
    'out of memory inside a script (Redis 7)',
    new Error("OOM command not allowed when used memory > 'maxmemory'. script: 4f1e…, on @user_script:3."),
    'retry-later',
    'OOM',
  ],
  [
    'out of memory inside a script (Redis 6)',
    new Error(
      "ERR Error running script (call to f_4f1e): @user_script:3: @user_script: 3: -OOM command not allowed when used memory > 'maxmemory'.",
    ),
    'retry-later',
    'OOM',
  ],
  [
    'busy script',
    new Error('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.'),
    'retry-later',
    'BUSY',
  ],
  [
    'cannot persist',
    new Error(
      'MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
    ),
    'retry-later',
    'MISCONF',
  ],
  ['cluster down', new Error('CLUSTERDOWN The cluster is down'), 'retry-later', 'CLUSTERDOWN'],
  [
    'slot migrating',
    new Error('TRYAGAIN Multiple keys request during rehashing of slot'),
    'retry-later',
    'TRYAGAIN',
  ],
  [
    'not enough replicas',
    new Error('NOREPLICAS Not enough good replicas to write.'),
    'retry-later',
    'NOREPLICAS',
  ],
  [
    'failover unblocked',
    new Error('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)'),
    'retry-later',
    'UNBLOCKED',
  ],
  [
    'wrapped by a library',
    new Error('job failed', { cause: new Error('LOADING Redis is loading the dataset in memory') }),
    'retry-later',
    'LOADING',
  ],
  [
    'wrong type',
    new Error('WRONGTYPE Operation against a key holding the wrong kind of value'),
    'error',
    'other',
  ],
  [
    'script bug',
    new Error("ERR user_script:1: Script attempted to access nonexistent global variable 'x'"),
    'error',
    'other',
  ],
  ['key exists (not BUSY)', new Error('BUSYKEY Target key name already exists.'), 'error', 'other'],
  ['group exists (not BUSY)', new Error('BUSYGROUP Consumer Group name already exists'), 'error', 'other'],
  [
    'wrong password',
    new Error('WRONGPASS invalid username-password pair or user is disabled.'),
    'error',
    'other',
  ],
  ['code word later in the text', new Error('ERR the word LOADING appears here'), 'error', 'other'],
  ['not a Redis error', new Error('no token can be sampled: logits are not finite'), 'error', 'other'],
  ['not an Error', 'ECONNREFUSED', 'error', 'other'],
  ['undefined', undefined, 'error', 'other'],
];

describe('classifyRedisFailure', () => {
  const cases = TABLE.map(([name, error, kind, reason]) => [name, kind, reason, error] as const);
  it.each(cases)('%s → %s (%s)', (_name, kind, reason, error) => {
    expect(classifyRedisFailure(error)).toEqual({ kind, reason });
    expect(isTransientRedisFailure(error)).toBe(kind !== 'error');
  });

  it('asks a client to wait longer for a Redis that answered "not now" than for a broken connection', () => {
    const connection = retryAfterSeconds({ kind: 'unavailable', reason: 'ECONNRESET' });
    const notNow = retryAfterSeconds({ kind: 'retry-later', reason: 'OOM' });
    expect(connection).toBeGreaterThanOrEqual(1);
    expect(notNow).toBeGreaterThan(connection);
  });
});

// The same classification of errors a real redis-server and a real ioredis client produce.
describe('classifyRedisFailure on errors from a real Redis', () => {
  let server: PrivateRedisServer;
  let redis: Redis;

  async function failureOf(command: Promise<unknown>) {
    try {
      await command;
    } catch (error) {
      return classifyRedisFailure(error);
    }
    throw new Error('the command succeeded');
  }

  beforeAll(async () => {
    server = await startPrivateRedisServer();
    redis = server.client;
  });

  afterAll(() => server.stop());

  it('a wrong type and a duplicate consumer group are real errors', async () => {
    await redis.set('s', 'x');
    expect(await failureOf(redis.lpush('s', 'y'))).toEqual({ kind: 'error', reason: 'other' });
    await redis.xgroup('CREATE', 'st', 'g', '$', 'MKSTREAM');
    expect(await failureOf(redis.xgroup('CREATE', 'st', 'g', '$'))).toEqual({
      kind: 'error',
      reason: 'other',
    });
  });

  it('a full Redis (maxmemory, noeviction) is retry-later, also inside a Lua script', async () => {
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', '1');
    try {
      expect(await failureOf(redis.set('k', 'v'))).toEqual({ kind: 'retry-later', reason: 'OOM' });
      const script = "return redis.call('SET', KEYS[1], ARGV[1])";
      expect(await failureOf(redis.eval(script, 1, 'k', 'v'))).toEqual({
        kind: 'retry-later',
        reason: 'OOM',
      });
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
  });

  it('a Redis busy running a long script is retry-later', async () => {
    await redis.config('SET', 'busy-reply-threshold', '20');
    const blocker = new Redis(server.url);
    try {
      const spin =
        'local t = redis.call("TIME"); local s = t[1] * 1e6 + t[2]; ' +
        'repeat t = redis.call("TIME") until t[1] * 1e6 + t[2] - s > 300000; return 1';
      const running = blocker.eval(spin, 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await failureOf(redis.get('k'))).toEqual({ kind: 'retry-later', reason: 'BUSY' });
      await running;
    } finally {
      blocker.disconnect();
    }
  });

  it('a replica refuses writes (READONLY) and, told not to serve stale data, reads (MASTERDOWN)', async () => {
    await redis.config('SET', 'replica-serve-stale-data', 'yes');
    await redis.replicaof('127.0.0.1', String(await freePort()));
    try {
      expect(await failureOf(redis.set('k', 'v'))).toEqual({ kind: 'retry-later', reason: 'READONLY' });
      await redis.config('SET', 'replica-serve-stale-data', 'no');
      expect(await failureOf(redis.get('k'))).toEqual({ kind: 'retry-later', reason: 'MASTERDOWN' });
    } finally {
      await redis.replicaof('NO', 'ONE');
    }
  });
});
