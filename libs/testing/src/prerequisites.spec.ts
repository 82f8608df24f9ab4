import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath, MissingPrerequisite, redactUrl, requireChromium, requireRedisServer } from './prerequisites';
import { postgresBinDir } from './private-postgres';

/** Runs fn with environment variables replaced (undefined: removed), then puts them back. */
function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (v: Record<string, string | undefined>) => {
    for (const [k, value] of Object.entries(v)) {
      if (value === undefined) delete process.env[k];
      else process.env[k] = value;
    }
  };
  apply(vars);
  try {
    return fn();
  } finally {
    apply(saved);
  }
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('test prerequisites outside Node: one line naming the piece, where it was looked for, how to get it', () => {
  const emptyDir = mkdtempSync(join(tmpdir(), 'reopen-prereq-'));

  it('redis-server missing from PATH: names it, the PATH searched and the package', () => {
    const err = withEnv({ PATH: emptyDir }, () => thrown(requireRedisServer));
    expect(err).toBeInstanceOf(MissingPrerequisite);
    expect(err.message).toMatch(
      /^redis-server is needed .* not on PATH \(.*reopen-prereq-.*\).*apt-get install redis-server/,
    );
    expect(err.stack).not.toMatch(/\n/); // Jest prints the stack: one line
  });

  it('redis-server found on PATH: its full path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reopen-prereq-'));
    writeFileSync(join(dir, 'redis-server'), '#!/bin/sh\n', { mode: 0o755 });
    expect(withEnv({ PATH: `${emptyDir}:${dir}` }, requireRedisServer)).toBe(join(dir, 'redis-server'));
    expect(findOnPath('redis-server', emptyDir)).toBeUndefined();
  });

  it('PostgreSQL server binaries in neither place: names initdb/pg_ctl, both places and the package', () => {
    const err = thrown(() => postgresBinDir(join(emptyDir, 'nowhere'), emptyDir, ''));
    expect(err).toBeInstanceOf(MissingPrerequisite);
    expect(err.message).toMatch(
      /^PostgreSQL server binaries \(initdb, pg_ctl\) .*POSTGRES_BIN_DIR .*under .*nowhere\/<version>\/bin nor on PATH.*npm test .*embedded.*apt-get install postgresql/,
    );
    expect(err.stack).not.toMatch(/\n/);
  });

  it('PostgreSQL server binaries on PATH when the Debian folder is absent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reopen-prereq-'));
    for (const cmd of ['initdb', 'pg_ctl']) writeFileSync(join(dir, cmd), '#!/bin/sh\n', { mode: 0o755 });
    expect(postgresBinDir(join(emptyDir, 'nowhere'), dir, '')).toBe(dir);
  });

  it('POSTGRES_BIN_DIR (npm test: the embedded binaries) wins over the Debian folder and PATH; a wrong one is named', () => {
    const debian = mkdtempSync(join(tmpdir(), 'reopen-prereq-'));
    const configured = mkdtempSync(join(tmpdir(), 'reopen-prereq-'));
    for (const dir of [join(debian, '15', 'bin'), configured]) {
      mkdirSync(dir, { recursive: true });
      for (const cmd of ['initdb', 'pg_ctl']) writeFileSync(join(dir, cmd), '#!/bin/sh\n', { mode: 0o755 });
    }
    expect(postgresBinDir(debian, '', configured)).toBe(configured);
    expect(postgresBinDir(debian, '', '')).toBe(join(debian, '15', 'bin'));
    const err = thrown(() => postgresBinDir(debian, '', emptyDir));
    expect(err).toBeInstanceOf(MissingPrerequisite);
    expect(err.message).toMatch(/^PostgreSQL server binaries .* not in POSTGRES_BIN_DIR=.*reopen-prereq-/);
    expect(err.stack).not.toMatch(/\n/);
  });

  it('Chromium missing: names CHROMIUM_PATH when it was set, else the Debian path, and how to provide it', () => {
    const configured = withEnv({ CHROMIUM_PATH: join(emptyDir, 'chrome') }, () => thrown(requireChromium));
    expect(configured).toBeInstanceOf(MissingPrerequisite);
    expect(configured.message).toMatch(
      /^Chromium is needed .*reopen-prereq-.*\/chrome \(from CHROMIUM_PATH\) is not an executable.*apt-get install chromium.*CHROMIUM_PATH/,
    );
    const exe = join(emptyDir, 'chromium');
    writeFileSync(exe, '#!/bin/sh\n', { mode: 0o755 });
    expect(withEnv({ CHROMIUM_PATH: exe }, requireChromium)).toBe(exe);
  });

  it('never prints a password from a URL', () => {
    expect(redactUrl('postgres://reopen:s3cret@db:5432/postgres')).toBe('postgres://reopen:***@db:5432/postgres');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
