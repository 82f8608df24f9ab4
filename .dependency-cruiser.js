// The folders' dependency rule (issue 17), checked by dependency-cruiser (https://github.com/sverweij/dependency-cruiser)
// in `npm run lint`: the domain imports no infrastructure, libs import no apps, no cycle between folders.
//
// Test files (*.spec.ts, *.int-spec.ts, *.e2e-spec.ts, *.contract-spec.ts) are left out: they sit on top of every
// folder (a lib's integration test starts the simulator and the worker through libs/testing), so an edge from one is
// no dependency of the shipped code. libs/testing itself is checked.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-no-infrastructure',
      severity: 'error',
      comment:
        'libs/domain is pure rules: no database, queue, HTTP or framework package (luxon, for time zones, is fine).',
      from: { path: '^libs/domain/' },
      to: { path: 'node_modules/(typeorm|pg|pg-copy-streams|ioredis|bullmq|@nestjs/[^/]+|undici|express|pino)/' },
    },
    {
      name: 'domain-imports-domain-only',
      severity: 'error',
      comment: 'libs/domain imports node built-ins, packages allowed above and itself: no other lib, no app.',
      from: { path: '^libs/domain/' },
      to: { path: '^(libs|apps|migrations|bench|test)/', pathNot: '^libs/domain/' },
    },
    {
      name: 'libs-import-no-apps',
      severity: 'error',
      comment:
        'Apps depend on libs, never the other way. One exception: libs/testing starts the mailstore simulator ' +
        '(apps/mailstore-sim), a test double run as its own process; moving it under libs/ changes the dist path ' +
        'that docker-compose.yml and scripts/demo.js start.',
      from: { path: '^libs/', pathNot: '^libs/testing/' },
      to: { path: '^apps/' },
    },
    {
      name: 'testing-imports-no-apps-but-the-simulator',
      severity: 'error',
      comment: 'See libs-import-no-apps.',
      from: { path: '^libs/testing/' },
      to: { path: '^apps/', pathNot: '^apps/mailstore-sim/src/index\\.ts$' },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment:
        'Two folders that import each other, directly or through others, are one folder in disguise; this holds for ' +
        'the folders of libs/core too, with no exception: the engine calls the wave ' +
        'commands (waves/) to pause, complete or halt a wave, and what both need of the send permits (the fence a ' +
        'command waits behind) lives below both, in libs/core/src/permits.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^(dist|coverage)/', '\\.(spec|int-spec|e2e-spec|contract-spec)\\.ts$'] },
    // Resolves the @app/* aliases as tsc does.
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports count: a domain type built on a TypeORM type still ties the domain to TypeORM.
    tsPreCompilationDeps: true,
  },
};
