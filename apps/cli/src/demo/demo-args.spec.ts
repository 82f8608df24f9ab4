import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

interface DemoArgs {
  parseDemoArgs(argv: string[]): { help: boolean; mailstore: string; keep: boolean; build: boolean; install: boolean };
  demoDatabaseUrls(env: Record<string, string | undefined>): { owner: string; app: string; source: string };
  USAGE: string;
}
// scripts/demo-args.js is plain JavaScript (it runs before anything is built): loaded as the demo loads it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseDemoArgs, demoDatabaseUrls, USAGE } = require(
  join(__dirname, '../../../../scripts/demo-args.js'),
) as DemoArgs;

describe('npm run demo: its arguments (issue 16: --help ran the whole demo, unknown flags were ignored)', () => {
  it('reads the flags it knows', () => {
    expect(parseDemoArgs([])).toEqual({ help: false, mailstore: 'simulator', keep: true, build: true, install: true });
    expect(parseDemoArgs(['--no-keep', '--no-build', '--no-install', '--mailstore=dovecot'])).toEqual({
      help: false,
      mailstore: 'dovecot',
      keep: false,
      build: false,
      install: false,
    });
    expect(parseDemoArgs(['--help']).help).toBe(true);
    expect(parseDemoArgs(['-h']).help).toBe(true);
  });

  it.each([['--partal'], ['--no-keep', 'extra'], ['--keep=no'], ['-x'], ['--mailstore=exchange'], ['--mailstore']])(
    'refuses %p in one line',
    (...argv) => {
      expect(() => parseDemoArgs(argv)).toThrow(/^[^\n]+\(see npm run demo -- --help\)$/);
    },
  );

  it('the script itself: --help prints the usage and does nothing else; an unknown flag exits 2 in one line', () => {
    const demo = (...argv: string[]) =>
      spawnSync(process.execPath, [join(__dirname, '../../../../scripts/demo.js'), ...argv], {
        encoding: 'utf8',
        timeout: 10_000,
        // Nowhere to connect: had it gone on, it would have said so.
        env: { ...process.env, DEMO_DATABASE_URL: 'postgres://root@127.0.0.1:1/reopen_demo_help' },
      });
    const help = demo('--help');
    expect({ status: help.status, stdout: help.stdout }).toEqual({ status: 0, stdout: USAGE });
    const typo = demo('--partal');
    expect({ status: typo.status, stdout: typo.stdout }).toEqual({ status: 2, stdout: '' });
    expect(typo.stderr).toBe("demo: Unknown option '--partal' (see npm run demo -- --help)\n");
  });

  it('documents every flag and variable it reads', () => {
    for (const word of [
      '--no-keep',
      '--no-build',
      '--no-install',
      '--mailstore=dovecot',
      '--help',
      'DEMO_DATABASE_URL',
      'DATABASE_URL',
    ]) {
      expect(USAGE).toContain(word);
    }
  });
});

describe('npm run demo: where its PostgreSQL is', () => {
  it('takes DEMO_DATABASE_URL as given', () => {
    expect(
      demoDatabaseUrls({ DEMO_DATABASE_URL: 'postgres://me@db:6000/mine', DATABASE_URL: 'postgres://x@y/z' }),
    ).toEqual({
      owner: 'postgres://me@db:6000/mine',
      app: 'postgres://reopen_app@db:6000/mine',
      source: 'DEMO_DATABASE_URL',
    });
  });

  it("honours DATABASE_URL's server and credentials, with the demo's own database (it drops it)", () => {
    expect(demoDatabaseUrls({ DATABASE_URL: 'postgres://me:pw@db.example:6543/production' })).toEqual({
      owner: 'postgres://me:pw@db.example:6543/reopen_demo',
      app: 'postgres://reopen_app:reopen-demo-app@db.example:6543/reopen_demo', // a server that asks for passwords
      source: 'DATABASE_URL',
    });
  });

  it('prefers OWNER_DATABASE_URL to DATABASE_URL (the runtime role may not create databases)', () => {
    const urls = demoDatabaseUrls({
      OWNER_DATABASE_URL: 'postgres://owner@db:5432/reopen',
      DATABASE_URL: 'postgres://reopen_app@db:5432/reopen',
    });
    expect(urls).toMatchObject({ owner: 'postgres://owner@db:5432/reopen_demo', source: 'OWNER_DATABASE_URL' });
  });

  it('falls back to the developer default, and DEMO_APP_DATABASE_URL names the runtime role', () => {
    expect(demoDatabaseUrls({ DEMO_APP_DATABASE_URL: 'postgres://app:pw@127.0.0.1:5432/reopen_demo' })).toEqual({
      owner: 'postgres://root@127.0.0.1:5432/reopen_demo',
      app: 'postgres://app:pw@127.0.0.1:5432/reopen_demo',
      source: 'default',
    });
  });
});
