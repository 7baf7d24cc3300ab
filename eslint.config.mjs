import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

/**
 * Module boundaries (CONTRIBUTING.md, "What may import what"), checked by eslint-plugin-boundaries on every
 * import, relative or by package name. Each folder below is one element; a dependency is allowed only by a
 * policy here.
 */
const ELEMENTS = [
  { type: 'api', pattern: 'apps/api' },
  { type: 'worker', pattern: 'apps/worker' },
  { type: 'cli', pattern: 'apps/cli' },
  { type: 'contracts', pattern: 'libs/contracts' },
  { type: 'store', pattern: 'libs/store' },
  { type: 'queue', pattern: 'libs/queue' },
  { type: 'agent-runtime', pattern: 'libs/agent-runtime' },
  { type: 'grammar', pattern: 'libs/grammar' },
  { type: 'test-kit', pattern: 'libs/test-kit' },
  { type: 'engine', pattern: 'engine' },
  { type: 'tests', pattern: 'test' },
  { type: 'training', pattern: 'training' },
];
const APPS = ['api', 'worker', 'cli'];
const LIBS = ['contracts', 'store', 'queue', 'agent-runtime', 'grammar'];
const element = (...types) => ({ element: { types: { anyOf: types } } });
const external = (source) => ({ module: { origin: 'external', source } });

/**
 * Files outside libs/store and libs/queue that may import ioredis, each for a reason; shrink this list, never grow
 * it without one. The apps' redis-connections.ts create and close the clients they hand to the store and the
 * queue (no commands). The worker's cancel-listener subscribes to the cancel channel itself and its
 * segment-consumer.service and worker.module hold clients for lifecycle (TODO: a store-owned cancel feed).
 */
const IOREDIS_EXCEPTIONS = [
  'apps/api/src/infrastructure/redis-connections.ts',
  'apps/worker/src/redis-connections.ts',
  'apps/worker/src/cancel-listener.service.ts',
  'apps/worker/src/segment-consumer.service.ts',
  'apps/worker/src/worker.module.ts',
];

/** Nest packages of the HTTP/WebSocket layer, and the HTTP names of @nestjs/common: the API's alone. */
const NEST_HTTP_PACKAGES = ['@nestjs/platform-*', '@nestjs/websockets', '@nestjs/swagger'];
// prettier-ignore
const NEST_HTTP_NAMES = [
  'Controller', 'Get', 'Post', 'Put', 'Patch', 'Delete', 'Head', 'Options', 'All', 'Sse', 'Redirect', 'Header',
  'HttpCode', 'Req', 'Request', 'Res', 'Response', 'Body', 'Param', 'Query', 'Headers', 'Ip', 'HostParam',
  'HttpException', 'HttpStatus', 'Catch', 'ExceptionFilter', 'UseFilters', 'UseGuards', 'UseInterceptors',
  'UsePipes', 'CanActivate', 'NestMiddleware', 'MiddlewareConsumer', 'PipeTransform',
];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', '**/*.js', '**/*.mjs', 'engine/scratch/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/elements': ELEMENTS,
      'boundaries/files': [
        {
          category: 'test',
          pattern: ['**/*.spec.ts', '**/*.test.ts', '**/*.probe.ts', 'apps/api/src/e2e/**', 'test/**'],
        },
      ],
      'boundaries/include': [
        'apps/**/*.ts',
        'libs/**/*.ts',
        'engine/**/*.ts',
        'test/**/*.ts',
        'training/**/*.ts',
      ],
      // Resolves `./x.js` to `./x.ts` and `@gooseherd/*` through the workspace links to the package itself.
      'import/resolver': {
        typescript: {
          alwaysTryTypes: true,
          noWarnOnMultipleProjects: true,
          project: [
            'engine/tsconfig.json',
            'apps/*/tsconfig.json',
            'libs/*/tsconfig.json',
            'test/tsconfig.json',
            'training/tsconfig.json',
          ],
        },
      },
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          // Also third-party and Node modules, and local files outside every package; not imports within one.
          checkAllOrigins: true,
          checkUnknownLocals: true,
          policies: [
            // Apps may import libs and the engine; libs never import apps; the engine imports nothing of the platform.
            { from: element(...APPS), allow: { to: element(...LIBS, 'engine') } },
            { from: element('store', 'queue', 'test-kit'), allow: { to: element('contracts') } },
            { from: element('agent-runtime'), allow: { to: element('contracts', 'engine', 'grammar') } },
            // Constrained decoding is a pure module over the engine's tokenizers (and its models, in tests).
            { from: element('grammar'), allow: { to: element('engine') } },
            { from: element('tests'), allow: { to: element(...LIBS, 'engine', 'test-kit') } },
            // The training workspace writes data with the platform's dialect and checks parity through the engine.
            { from: element('training'), allow: { to: element('agent-runtime', 'engine') } },
            // Test files anywhere may use the test kit; nothing that ships may.
            { from: { file: { categories: 'test' } }, allow: { to: element('test-kit') } },
            // Third-party and Node modules are allowed, except these:
            { allow: { to: { module: { origin: ['external', 'core'] } } } },
            // BullMQ belongs to libs/queue alone.
            { from: { element: { types: { noneOf: ['queue'] } } }, disallow: { to: external('bullmq') } },
            // Redis commands are issued by libs/store (and BullMQ's by libs/queue): nothing else holds an ioredis
            // client, except test files (a raw client to inspect or break Redis) and the exceptions below.
            {
              from: { element: { types: { noneOf: ['store', 'queue', 'test-kit'] } } },
              disallow: { to: external('ioredis') },
            },
            { from: { file: { categories: 'test' } }, allow: { to: external('ioredis') } },
            { from: { file: { path: IOREDIS_EXCEPTIONS } }, allow: { to: external('ioredis') } },
            // Nest's HTTP layer (and its WebSocket gateway and OpenAPI) belongs to the API alone.
            {
              from: { element: { types: { noneOf: ['api'] } } },
              disallow: { to: external(NEST_HTTP_PACKAGES) },
            },
            {
              from: { element: { types: { noneOf: ['api'] } } },
              disallow: { to: external('@nestjs/common'), dependency: { specifiers: NEST_HTTP_NAMES } },
            },
          ],
        },
      ],
    },
  },
);
