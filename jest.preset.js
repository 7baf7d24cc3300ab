// Shared Jest settings: @swc/jest compiles TypeScript (and the ESM-only NestJS packages, later) in-process,
// which is much faster than ts-jest and works with TypeScript 6. Type checking is `npm run build`'s job.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: require.resolve('./jest.environment.js'),
  transform: {
    '^.+\\.(t|j)s$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs)/)'],
  moduleNameMapper: {
    '^@gooseherd/engine$': '<rootDir>/../../engine/src/index.ts',
    '^@gooseherd/(contracts|store|queue|grammar|agent-runtime|test-kit)$':
      '<rootDir>/../../libs/$1/src/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  modulePathIgnorePatterns: ['/dist/'],
};
