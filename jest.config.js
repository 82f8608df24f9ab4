// One Jest run covers every layer; each layer is a project so it can be run alone
// (`npx jest --selectProjects unit`). The services' global setup creates one migrated template
// database per run; test files clone it (see libs/testing/src/test-database.ts).
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json', diagnostics: false }],
    // NestJS 12 ships ESM only. Node 20.19 loads it from our CommonJS build through require(esm), but Jest's
    // module runtime cannot (before Node 24.9), so under Jest those files are turned into CommonJS.
    '^.+/node_modules/.+\\.m?js$': [
      'babel-jest',
      {
        babelrc: false,
        configFile: false,
        plugins: [
          ['babel-plugin-transform-import-meta', { module: 'ES6' }],
          '@babel/plugin-transform-modules-commonjs',
        ],
      },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@nestjs)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
};

// The layers that talk to PostgreSQL and Redis. Jest runs a project's globalSetup only when a test of that project is
// selected, once per distinct module, so `--selectProjects unit` (or a lone *.spec.ts) never needs a database; in a
// full run the setup probes the services and, when one is missing, lets the unit tests run while each file that needs
// it fails with one line (libs/testing/src/prerequisites.ts). Lazy template creation in the first file was the other
// option: it needs a cross-worker lock and puts a migration's time into one file's timeout.
const services = {
  globalSetup: '<rootDir>/libs/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/global-teardown.ts',
};

module.exports = {
  maxWorkers: 2,
  // Project-level testTimeout is not honoured by Jest: one generous default for the layers that talk to services.
  testTimeout: 60000,
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    { ...base, ...services, displayName: 'integration', testMatch: ['<rootDir>/{apps,libs}/**/*.int-spec.ts'] },
    {
      ...base,
      ...services,
      displayName: 'contract',
      testMatch: ['<rootDir>/test/contract/**/*.contract-spec.ts'],
      testTimeout: 60000,
    },
    { ...base, ...services, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
  ],
};
