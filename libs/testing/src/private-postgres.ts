import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freeLoopbackPort } from './ports';
import { findOnPath, MissingPrerequisite } from './prerequisites';

/**
 * A PostgreSQL cluster of the test's own (initdb in a temp folder, its own port), so a test can restart it with
 * `-m immediate` without disturbing the shared server other test files use. Runs as the `postgres` OS user
 * when the test runs as root (PostgreSQL refuses to run as root).
 */
export interface PrivatePostgres {
  url: string;
  restartImmediate(): void;
  /** An outage: the server stops at once (`-m immediate`), its data kept for `resume`. */
  halt(): void;
  resume(): void;
  stop(): void;
}

/**
 * initdb and pg_ctl: POSTGRES_BIN_DIR when set (npm test sets it to the embedded PostgreSQL's binaries,
 * scripts/services.js); else Debian's, off PATH under /usr/lib/postgresql/<version>/bin (newest wins); else PATH.
 */
export function postgresBinDir(
  root = '/usr/lib/postgresql',
  path = process.env.PATH ?? '',
  configured = process.env.POSTGRES_BIN_DIR,
): string {
  if (configured) {
    if (existsSync(join(configured, 'initdb')) && existsSync(join(configured, 'pg_ctl'))) return configured;
    throw new MissingPrerequisite(
      `PostgreSQL server binaries (initdb, pg_ctl) are needed (this test runs a cluster of its own) and are not in ` +
        `POSTGRES_BIN_DIR=${configured}: point it at a folder that holds them, or unset it.`,
    );
  }
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const dir = join(root, version, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const initdb = findOnPath('initdb', path);
  if (initdb && findOnPath('pg_ctl', path)) return dirname(initdb);
  throw new MissingPrerequisite(
    `PostgreSQL server binaries (initdb, pg_ctl) are needed (this test runs a cluster of its own) and were found ` +
      `neither in POSTGRES_BIN_DIR nor under ${root}/<version>/bin nor on PATH: run the tests with npm test (it ` +
      `hands them the embedded PostgreSQL's), or install them (Debian: apt-get install postgresql).`,
  );
}

export function privatePostgresAvailable(): boolean {
  try {
    postgresBinDir();
    return true;
  } catch {
    return false;
  }
}

export interface PrivatePostgresOptions {
  /**
   * The superuser's password: the cluster then asks every client for a password (scram-sha-256), as a deployment
   * does, instead of trusting loopback connections.
   */
  password?: string;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), 'reopen-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freeLoopbackPort();
  const asPostgres = process.getuid?.() === 0;
  const run = (cmd: string, args: string[]) => {
    const full = [join(bin, cmd), ...args];
    const r = asPostgres
      ? spawnSync('su', ['postgres', '-s', '/bin/sh', '-c', full.map((a) => `'${a}'`).join(' ')], { encoding: 'utf8' })
      : spawnSync(full[0], full.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr || r.stdout}`);
  };
  if (options.password === undefined) {
    run('initdb', ['-D', data, '-A', 'trust', '-U', 'root', '--no-sync']);
  } else {
    const pwfile = join(dir, 'pwfile');
    writeFileSync(pwfile, `${options.password}\n`, { mode: 0o644 });
    run('initdb', ['-D', data, '-A', 'scram-sha-256', '--pwfile', pwfile, '-U', 'root', '--no-sync']);
  }
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']);
  return {
    url:
      options.password === undefined
        ? `postgres://root@127.0.0.1:${port}/postgres`
        : `postgres://root:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`,
    restartImmediate: () =>
      run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-m', 'immediate', '-w', 'restart']),
    halt: () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    resume: () => run('pg_ctl', ['-D', data, '-o', opts, '-l', join(dir, 'log'), '-w', 'start']),
    stop: () => {
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        try {
          execFileSync('rm', ['-rf', dir]);
        } catch {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    },
  };
}
