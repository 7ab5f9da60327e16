import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Node loads graphql's CommonJS build (its package.json has "main", no "exports"), and so do mercurius
  // and graphql-query-complexity; vite would pick its "module" build for tollgate's own imports, and
  // graphql-js refuses a schema made by the other copy ("from another module or realm").
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    root: new URL('..', import.meta.url).pathname,
    // Builds dist/ when src/ changed: CLI and serve processes in the tests run the compiled CLI.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more workers only fight over them (PGlite is CPU-bound WASM).
    maxWorkers: 2,
    projects: [
      // Unit and integration tests share no state through modules (no mocks; each test makes its own database
      // and closes what it opens): a worker imports the sources once for all their files instead of once per
      // file, about a second each. End-to-end tests start gateways and processes, and stay one file per process.
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], isolate: false } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] } },
    ],
  },
});
