// The folders' dependency rule (issue 17), checked by dependency-cruiser (https://github.com/sverweij/dependency-cruiser)
// in `npm run lint`: the domain imports no infrastructure, libs import no apps, no two folders import each other.
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
        'Two folders that import each other are one folder in disguise. One known exception, to be broken: ' +
        'libs/core/src/engine <-> libs/core/src/waves (the engine calls WaveCommandsService to pause, complete or ' +
        'halt a wave; WaveCommandsService uses countRollback and waitForSendPermits). ' +
        'dependency-cruiser does not apply `via` to folder rules yet, so the exception is two rules: this one for a ' +
        'cycle seen from any other folder, no-folder-cycles-from-engine-or-waves for one leaving engine/ or waves/ ' +
        'for a third folder.',
      scope: 'folder',
      from: { pathNot: '^libs/core/src/(engine|waves)$' },
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles-from-engine-or-waves',
      severity: 'error',
      comment: 'See no-folder-cycles: only engine/ <-> waves/ is allowed, and only between the two of them.',
      scope: 'folder',
      from: { path: '^libs/core/src/(engine|waves)$' },
      to: { circular: true, pathNot: '^libs/core/src/(engine|waves)$' },
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
