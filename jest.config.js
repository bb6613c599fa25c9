/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Transpile only: `npm run typecheck` is the type check, so each test file compiles in milliseconds.
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  // Two cores: PGlite instances are ~300-750 MB each and CPU-bound.
  maxWorkers: 2,
  testTimeout: 30000,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
};
