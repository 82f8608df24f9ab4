import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parse } from 'yaml';
import { EnvironmentDto, loadConfig, SHUTDOWN_DEADLINES_MS } from '@app/config';
import { environmentProblems } from '@app/core';
import { readDriverSettings } from '@app/mailstore';
import { parseDockerfile } from '@app/testing';
import { COMMANDS, parseCommandLine } from './args';

const root = join(__dirname, '../../..');
// scripts/validate-compose.js is plain JavaScript (.ci/run calls it): loaded as CI loads it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { composeProblems } = require(join(root, 'scripts/validate-compose.js')) as {
  composeProblems(text: string): string[];
};
const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

interface Dependency {
  condition: string;
  required?: boolean;
}
interface Service {
  command?: string[];
  entrypoint?: string[];
  profiles?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, Dependency>;
  restart?: string;
  stop_grace_period?: string;
}

/**
 * The file as Compose reads it with nothing set in the environment or .env: `${VAR:-default}` becomes the default, as
 * on a laptop that follows the README.
 */
function interpolate(text: string): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_m, _name, fallback: string | undefined) => fallback ?? '');
}
const services = (parse(interpolate(compose), { merge: true }) as { services: Record<string, Service> }).services;

/** The services Compose starts with these profiles (no `profiles`: always; else when one of them is active). */
function active(profiles: string[]): string[] {
  return Object.keys(services).filter((name) => {
    const own = services[name].profiles;
    return !own?.length || own.some((p) => profiles.includes(p));
  });
}

const runtimeStage = parseDockerfile(dockerfile).at(-1)!;
/** Where a COPY of the image's final stage put `path` (absolute in the image), if one did. */
function copiedInto(path: string): boolean {
  return runtimeStage.copies.some((c) => path === c.dest || path.startsWith(`${c.dest}/`));
}

describe('docker-compose.yml (issue 16: validated in CI even where there is no Docker)', () => {
  it('is valid against the Compose Specification schema, and every process it runs is built from a source file', () => {
    expect(composeProblems(compose)).toEqual([]);
  });

  it('gives the API and the worker more time to stop than their own shutdown deadlines', () => {
    const seconds = (d: string | undefined) => Number(/^(\d+)s$/.exec(d ?? '')?.[1] ?? 10); // Docker's default: 10 s
    expect(seconds(services.api.stop_grace_period) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINES_MS.api);
    expect(seconds(services.worker.stop_grace_period) * 1000).toBeGreaterThan(SHUTDOWN_DEADLINES_MS.worker);
  });

  it.each([
    ['an unknown service key', compose.replace('  api:\n', '  api:\n    restartt: always\n'), /additional properties/],
    [
      'ports that are not a list',
      compose.replace("ports: ['127.0.0.1:3000:3000']", 'ports: 3000'),
      /ports must be array/,
    ],
    ['a process that is not built', compose.replace('dist/apps/api/src/main.js', 'dist/apps/api/src/mian.js'), /mian/],
    [
      'a healthcheck that is not built',
      compose.replace('dist/apps/worker/src/health-probe.js', 'dist/apps/worker/src/health-prob.js'),
      /healthcheck\/test runs dist\/apps\/worker\/src\/health-prob\.js/,
    ],
    ['broken YAML', `${compose}\n  : [`, /not valid YAML/],
  ])('finds %s', (_what, text, problem) => {
    expect(text).not.toBe(compose);
    expect(composeProblems(text).join('\n')).toMatch(problem);
  });
});

describe('docker-compose.yml: profiles, dependencies and healthchecks', () => {
  it('starts the simulator only with the demo profile, and the admin CLI only when it is run', () => {
    expect(active([]).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(active(['demo']).sort()).toEqual(['api', 'mailstore-sim', 'migrate', 'postgres', 'redis', 'worker']);
    expect(services['mailstore-sim'].profiles).toEqual(['demo']);
    expect(services.admin.profiles).toEqual(['admin']);
  });

  it.each([[[]], [['demo']]])(
    'with profiles %j, every dependency is started too or not required (Compose refuses the stack otherwise)',
    (profiles) => {
      const up = active(profiles);
      for (const name of up) {
        for (const [dep, d] of Object.entries(services[name].depends_on ?? {})) {
          expect({ service: name, dep, startedOrOptional: up.includes(dep) || d.required === false }).toEqual({
            service: name,
            dep,
            startedOrOptional: true,
          });
        }
      }
    },
  );

  it('waits on a healthcheck only where there is one, and on completion only of one-shot services', () => {
    const edges = Object.entries(services).flatMap(([name, s]) =>
      Object.entries(s.depends_on ?? {}).map(([dep, d]) => ({ name, dep, condition: d.condition })),
    );
    expect(edges.filter((e) => e.condition === 'service_healthy').length).toBeGreaterThanOrEqual(5);
    for (const e of edges) {
      const target = services[e.dep];
      expect({ ...e, exists: target !== undefined }).toEqual({ ...e, exists: true });
      if (e.condition === 'service_healthy') {
        expect({ ...e, healthcheck: (target.healthcheck?.test.length ?? 0) > 1 }).toEqual({ ...e, healthcheck: true });
      }
      if (e.condition === 'service_completed_successfully')
        expect({ ...e, restart: target.restart }).toEqual({ ...e, restart: 'no' });
    }
  });

  it('checks the worker with a probe the image contains, on the port its configuration gives the worker', () => {
    const test = services.worker.healthcheck!.test;
    expect(test[0]).toBe('CMD');
    const script = test.find((arg) => /^dist\/.+\.js$/.test(arg))!;
    expect(script).toBe('dist/apps/worker/src/health-probe.js');
    // In the image: a file of dist, which the runtime stage copies to its WORKDIR, built from a source that exists.
    expect(copiedInto(posix.join(runtimeStage.workdir, script))).toBe(true);
    expect(existsSync(join(root, script.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
    // The probe reads WORKER_HEALTH_PORT from the same environment the worker is configured from.
    const workerConfig = loadConfig(services.worker.environment);
    expect(workerConfig.WORKER_HEALTH_PORT).toBeGreaterThan(0);
    expect(services.worker.command).toContain('dist/apps/worker/src/main.js');
  });
});

describe('docker-compose.yml: database roles agree with PostgreSQL, the CLI and the processes', () => {
  const pg = services.postgres.environment!;
  const defaults = new EnvironmentDto();
  const url = (u: string) => {
    const parsed = new URL(u);
    return {
      user: parsed.username,
      password: decodeURIComponent(parsed.password),
      host: parsed.host,
      db: parsed.pathname.slice(1),
    };
  };

  it('creates the owner and the database that the CLI services connect to as owner', () => {
    expect(services.postgres.healthcheck!.test).toEqual([
      'CMD',
      'pg_isready',
      '-U',
      pg.POSTGRES_USER,
      '-d',
      pg.POSTGRES_DB,
    ]);
    for (const name of ['migrate', 'admin']) {
      expect({ name, owner: url(services[name].environment!.OWNER_DATABASE_URL) }).toEqual({
        name,
        owner: { user: pg.POSTGRES_USER, password: pg.POSTGRES_PASSWORD, host: 'postgres:5432', db: pg.POSTGRES_DB },
      });
    }
  });

  it('connects every process as the runtime role of the configuration, which migrate creates, in the same database', () => {
    const runtimeRole = url(defaults.DATABASE_URL).user;
    expect(runtimeRole).toBe('reopen_app');
    // The database the configuration and the CLI default to is the one compose's PostgreSQL creates.
    expect(url(defaults.DATABASE_URL).db).toBe(pg.POSTGRES_DB);
    expect(url(defaults.OWNER_DATABASE_URL).db).toBe(pg.POSTGRES_DB);
    for (const name of ['migrate', 'admin', 'worker', 'api']) {
      const env = services[name].environment!;
      const runtime = url(env.DATABASE_URL);
      expect({ name, user: runtime.user, host: runtime.host, db: runtime.db }).toEqual({
        name,
        user: runtimeRole,
        host: 'postgres:5432',
        db: pg.POSTGRES_DB,
      });
      expect(runtime.password).not.toBe('');
      expect(runtime.password).not.toBe(pg.POSTGRES_PASSWORD);
      // Each environment is one the process accepts (the same validation as at boot, the driver's included).
      expect(environmentProblems(env, { api: name === 'api' }).problems).toEqual([]);
    }
  });

  it('gives the owner URL to the CLI services only, never to the API or the worker', () => {
    const withOwner = Object.keys(services).filter((name) => services[name].environment?.OWNER_DATABASE_URL);
    expect(withOwner.sort()).toEqual(['admin', 'migrate']);
  });

  it('points the API and the worker at the simulator by default, which the demo profile starts', () => {
    for (const name of ['api', 'worker']) {
      const env = services[name].environment!;
      expect(loadConfig(env).MAILSTORE_DRIVER).toBe('http');
      expect(readDriverSettings('http', env).settings).toMatchObject({ MAILSTORE_URL: 'http://mailstore-sim:8025/v1' });
    }
    expect(compose).toMatch(/MAILSTORE_URL: \$\{MAILSTORE_URL:-http:\/\/mailstore-sim:8025\/v1\}/);
    expect(compose).toMatch(/MAILSTORE_TOKEN: \$\{MAILSTORE_TOKEN:-sim-token\}/);
    expect(services['mailstore-sim'].environment!.SIM_PORT).toBe('8025');
  });
});

describe('the Dockerfile: the CLI runs in the image without a build', () => {
  it('copies the built CLI, its dependencies and the reopen-admin wrapper into the runtime stage', () => {
    expect(runtimeStage.runs).toEqual([]); // nothing is built in it
    expect(copiedInto(posix.join(runtimeStage.workdir, 'dist/apps/cli/src/main.js'))).toBe(true);
    expect(copiedInto(posix.join(runtimeStage.workdir, 'node_modules'))).toBe(true);
    const wrapper = runtimeStage.copies.find((c) => c.dest === '/usr/local/bin/reopen-admin');
    expect(wrapper).toMatchObject({ sources: ['deploy/reopen-admin'], chmod: '755' });
    const script = readFileSync(join(root, 'deploy/reopen-admin'), 'utf8');
    expect(script).toContain(`exec node "\${REOPEN_APP_DIR:-${runtimeStage.workdir}}/dist/apps/cli/src/main.js" "$@"`);
    // The build stage prunes what the runtime does not need, after building.
    expect(parseDockerfile(dockerfile)[0].runs.at(-1)).toBe('npm run build && npm prune --omit=dev');
  });

  it('runs the CLI services through that wrapper', () => {
    expect(services.migrate.command).toEqual(['reopen-admin', 'migrate']);
    expect(services.admin.entrypoint).toEqual(['reopen-admin']);
  });

  it('builds every stage on the same Node LTS, at least 22 (Node 20 ended in April 2026)', () => {
    const bases = parseDockerfile(dockerfile).map((s) => s.base);
    expect(new Set(bases).size).toBe(1);
    const major = Number(/^node:(\d+)-/.exec(bases[0])?.[1]);
    expect(major).toBeGreaterThanOrEqual(22);
    expect(major % 2).toBe(0); // even majors become LTS
  });
});

describe("the README's Docker Compose commands", () => {
  const section = /## Docker Compose\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const lines = section
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l.startsWith('docker compose '));

  it('run the documented sequence: services up, migrate, a key, an import, the stack', () => {
    expect(lines.map((l) => l.replace(/ -v \S+/, ''))).toEqual([
      'docker compose build',
      'docker compose up -d postgres redis',
      'docker compose run --rm admin migrate',
      'docker compose run --rm admin create-api-key --role ops --name alice',
      'docker compose run --rm admin import-accounts /import/accounts.csv',
      'docker compose --profile demo up -d',
    ]);
  });

  it('name services and profiles the compose file has, and admin commands the CLI accepts', () => {
    const profiles = new Set(Object.values(services).flatMap((s) => s.profiles ?? []));
    for (const line of lines) {
      for (const [, profile] of line.matchAll(/--profile (\S+)/g))
        expect({ line, profile: profiles.has(profile) }).toEqual({ line, profile: true });
      const run = /run --rm(?: -v \S+)* (\S+)(.*)$/.exec(line);
      if (!run) continue;
      expect(Object.keys(services)).toContain(run[1]);
      const argv = run[2].trim().split(/\s+/);
      expect(Object.keys(COMMANDS)).toContain(argv[0]);
      expect({ line, parsed: parseCommandLine(argv).kind }).toEqual({ line, parsed: 'run' });
    }
    // The import's file is mounted where the command reads it.
    expect(section).toContain(
      '-v "$PWD/accounts.csv:/import/accounts.csv:ro" admin import-accounts /import/accounts.csv',
    );
  });
});
