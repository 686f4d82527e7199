// Shared jest settings for every package: TypeScript through swc (no type-check here; `typecheck`
// does that), the `@podkit/source` export condition so workspace packages resolve to their sources.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  testEnvironmentOptions: { customExportConditions: ['@podkit/source', 'node', 'require', 'default'] },
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  testTimeout: 60000,
  reporters: ['default', require.resolve('./tools/scripts/jest-results-reporter.js')],
};
