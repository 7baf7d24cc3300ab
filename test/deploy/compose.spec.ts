import { spawnSync } from 'node:child_process';
import {
  apiGetRoutes,
  argAfter,
  composeMemoryBytes,
  redisMemoryBytes,
  commandAvailable,
  durationMs,
  entrypointRoles,
  ENV_DEFAULTS,
  ENV_NAMES,
  readText,
  readYaml,
  repoPath,
  rootScripts,
  workerStopMs,
  type Doc,
} from './deploy-files';

// docker-compose.yml, checked without a Docker engine: it parses (and `docker-compose config` accepts it when
// that binary is installed), and it agrees with the code: the commands, the variables and their defaults, the
// drain time, the health endpoint.

/** Settings whose Compose default differs from the schema's on purpose. */
const COMPOSE_OVERRIDES: Record<string, string> = {
  REDIS_URL: 'the redis service by its Compose name, not 127.0.0.1',
};

describe('docker-compose.yml', () => {
  const compose: Doc = readYaml('docker-compose.yml');
  const services: Record<string, Doc> = compose.services;

  it('parses, and docker-compose accepts it when installed', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'redis', 'worker']);
    if (!commandAvailable('docker-compose')) {
      // Not a skipped test: the YAML checks here and below still run; only the binary's own check is absent.
      console.log('docker-compose is not installed: `docker-compose config` not run (YAML checks only)');
      return;
    }
    const result = spawnSync('docker-compose', ['-f', repoPath('docker-compose.yml'), 'config', '-q'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('runs Redis with an append-only file on a named volume, and a healthcheck', () => {
    const redis = services.redis;
    const args: string[] = redis.command;
    expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
    expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    const [volume, mountPath] = String(redis.volumes[0]).split(':');
    expect(mountPath).toBe('/data');
    expect(Object.keys(compose.volumes)).toContain(volume);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('caps Redis memory at about 75% of its container limit, evicting nothing (a full Redis answers OOM)', () => {
    const redis = services.redis;
    const args: string[] = redis.command;
    expect(argAfter(args, '--maxmemory-policy')).toBe('noeviction');
    const maxmemory = redisMemoryBytes(argAfter(args, '--maxmemory') ?? '0');
    const limit = composeMemoryBytes(String(redis.mem_limit ?? '0'));
    expect(limit).toBeGreaterThan(0);
    expect(maxmemory / limit).toBeGreaterThanOrEqual(0.7);
    expect(maxmemory / limit).toBeLessThanOrEqual(0.8);
  });

  it.each(['api', 'worker'])('starts the %s only once Redis is healthy', (name) => {
    expect(services[name].depends_on).toEqual({ redis: { condition: 'service_healthy' } });
  });

  it.each(['api', 'worker'])('runs the %s with the command the README runs', (role) => {
    const service = services[role];
    expect(service.command).toEqual([role]);
    expect(service.build.dockerfile).toBe('deploy/Dockerfile');
    // The image's entrypoint maps the role onto `npm run <role>`'s command, whose script exists.
    const command = entrypointRoles()[role];
    expect(command).toBe(rootScripts()[role]);
    expect(command).toBe(`node apps/${role}/dist/main.js`);
    expect(readText('README.md')).toContain(`npm run ${role}`);
    expect(readText(`apps/${role}/src/main.ts`)).toContain('loadEnv(');
    expect(JSON.parse(readText(`apps/${role}/package.json`)).main).toBe('dist/main.js');
  });

  it('lets workers scale: no container name, no published port, models mounted read-only', () => {
    const worker = services.worker;
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    // SOURCE:TARGET[:MODE], where SOURCE may be `${VAR:-default}` (itself holding a colon).
    const mounts = (worker.volumes as string[]).map((v) => /^(.+):(\/[^:]*)(?::(\w+))?$/.exec(v)!);
    const models = mounts.find((m) => m[2] === '/models');
    expect(models?.[3]).toBe('ro');
    // The default source is the named volume declared below (GOOSEHERD_MODELS_VOLUME may name a host folder).
    expect(/^\$\{GOOSEHERD_MODELS_VOLUME:-(\w+)\}$/.exec(models![1])?.[1]).toBe('models');
    expect(Object.keys(compose.volumes)).toContain('models');
    expect(Object.keys(worker.environment)).toEqual(
      expect.arrayContaining(['GOOSEHERD_MODEL_PATH', 'GOOSEHERD_VOCAB_PATH']),
    );
  });

  it('gives a stopping worker more time than its drain', () => {
    const drain = /^\$\{GOOSEHERD_DRAIN_MS:-(\d+)\}$/.exec(services.worker.environment.GOOSEHERD_DRAIN_MS);
    expect(drain?.[1]).toBe(ENV_DEFAULTS.GOOSEHERD_DRAIN_MS);
    expect(durationMs(services.worker.stop_grace_period)).toBeGreaterThan(workerStopMs(Number(drain![1])));
  });

  it('checks the API on /healthz, a route the API serves', () => {
    expect(services.api.healthcheck.test).toEqual(['CMD', 'node', 'deploy/healthcheck.js']);
    expect(readText('deploy/healthcheck.js')).toContain("path: '/healthz'");
    expect(apiGetRoutes()).toContain('/healthz');
    expect(services.api.ports).toEqual(['${PORT:-8080}:${PORT:-8080}']);
  });

  describe.each(['api', 'worker'])('the %s environment', (name) => {
    const environment: Record<string, string | null> = services[name].environment;

    it('sets only variables the code reads, each listed in the README', () => {
      const readme = readText('README.md');
      for (const variable of Object.keys(environment)) {
        expect({ variable, read: ENV_NAMES.includes(variable) }).toEqual({ variable, read: true });
        expect({ variable, documented: readme.includes(`\`${variable}\``) }).toEqual({
          variable,
          documented: true,
        });
      }
    });

    it('defaults each variable to the schema default, or passes an optional one through unset', () => {
      for (const [variable, value] of Object.entries(environment)) {
        if (value === null) {
          // `NAME:` with no value: the host's value when set, else unset (an empty string would be a value).
          expect({ variable, hasDefault: variable in ENV_DEFAULTS }).toEqual({ variable, hasDefault: false });
          continue;
        }
        const match = /^\$\{(\w+):-([^}]*)\}$/.exec(value);
        expect({ variable, interpolatedFrom: match?.[1] }).toEqual({ variable, interpolatedFrom: variable });
        const expected = COMPOSE_OVERRIDES[variable] ? match![2] : ENV_DEFAULTS[variable];
        expect({ variable, default: match![2] }).toEqual({ variable, default: expected });
      }
    });
  });

  it('sets the settings each process reads', () => {
    expect(Object.keys(services.api.environment)).toEqual(
      expect.arrayContaining(['REDIS_URL', 'PORT', 'HOST', 'GOOSEHERD_API_KEY', 'GOOSEHERD_API_KEYS']),
    );
    expect(Object.keys(services.worker.environment)).toEqual(
      expect.arrayContaining([
        'REDIS_URL',
        'GOOSEHERD_DRAIN_MS',
        'GOOSEHERD_LEASE_MS',
        'GOOSEHERD_WORKER_CONCURRENCY',
      ]),
    );
    expect(services.api.environment.REDIS_URL).toBe('${REDIS_URL:-redis://redis:6379}');
  });
});
