import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql');
  return join(root, version, 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function privatePostgresAvailable(): boolean {
  return existsSync('/usr/lib/postgresql');
}

export interface PrivatePostgresOptions {
  /**
   * The superuser's password: the cluster then asks every client for a password (scram-sha-256), as a deployment
   * does, instead of trusting loopback connections.
   */
  password?: string;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'reopen-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
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
