import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingPrerequisite } from '@app/testing';
import { ensureFreshBuild } from './api-process';

const ROOT = join(__dirname, '..', '..');
/** The demo takes about a minute with 20,000 accounts on 2 cores (and starts its own servers): the point of giving up. */
const DEMO_DEADLINE_MS = 300_000;
const SLICE_DEADLINE_MS = 240_000;

/**
 * A network of its own (`unshare --net`: a loopback and nothing listening on it), so that nothing answers at the
 * default PostgreSQL and Redis addresses, as on a machine that has only Node. The project's files, node_modules and
 * PATH are those of this machine (the namespace has no network to install from).
 */
function requireNetworkNamespace(): void {
  const r = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new MissingPrerequisite(
      `unshare --net is needed (this test plays a machine with no PostgreSQL and no Redis in a network namespace of ` +
        `its own) and failed: ${(r.error?.message ?? r.stderr).trim()}. Run it as root, or where user namespaces are allowed.`,
    );
  }
}

/** Every variable that could point the commands at this machine's services is removed: the defaults apply. */
function freshEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(DATABASE_URL|OWNER_DATABASE_URL|REDIS_URL|REDIS_PREFIX|TEST_DATABASE_URL|TEST_REDIS_URL|POSTGRES_BIN_DIR|PORT|SIM_PORT)$/.test(
          k,
        ) && !/^(DEMO_|REOPEN_TEST_|JEST_)/.test(k),
    ),
  );
  return { ...env, ...extra, CI: 'true' };
}

/** Runs `command` in a fresh network namespace; resolves with its exit code and everything it printed. */
function inFreshNetwork(command: string, env: NodeJS.ProcessEnv, deadlineMs: number) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('unshare', ['--net', 'sh', '-c', `ip link set lo up 2>/dev/null || true; exec ${command}`], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGTERM'), deadlineMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the two commands on a machine with nothing at the default PostgreSQL and Redis addresses', () => {
  beforeAll(() => {
    requireNetworkNamespace();
    ensureFreshBuild();
  });

  it(
    'npm run demo starts an embedded PostgreSQL and a redis-server, says so in one line each, plays the story, stops them',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'reopen-fresh-'));
      const summaryFile = join(dir, 'summary.json');
      try {
        const r = await inFreshNetwork(
          `${process.execPath} scripts/demo.js --no-keep --no-install --no-build`,
          freshEnv({ DEMO_ACCOUNTS: '20000', DEMO_SUMMARY_FILE: summaryFile }),
          DEMO_DEADLINE_MS,
        );
        expect(r.output).toMatch(
          /^demo: PostgreSQL: none at 127\.0\.0\.1:5432 \(the default address\): started embedded PostgreSQL 15\.\d+ on 127\.0\.0\.1:\d+ .*removed at the end$/m,
        );
        expect(r.output).toMatch(
          /^demo: Redis: none at 127\.0\.0\.1:6379 \(the default address\): started \S*redis-server \S+ on 127\.0\.0\.1:\d+, stopped at the end$/m,
        );
        expect(r.output.match(/^demo: (PostgreSQL|Redis):/gm)).toHaveLength(2); // one line each
        expect(r.output).toMatch(/^demo: done in [\d.]+ s\.$/m);
        expect(r.code).toBe(0);
        const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as {
          accounts: number;
          waves: { state: string; enabled: number }[];
        };
        expect(summary.accounts).toBe(20000);
        expect(summary.waves.map((w) => w.state)).toEqual(['completed', 'completed']);
        expect(summary.waves.every((w) => w.enabled > 0)).toBe(true);
        const dataDir = /data in (\S+), removed at the end/.exec(r.output)![1];
        expect(spawnSync('test', ['-e', dataDir]).status).not.toBe(0); // its folder is gone
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    DEMO_DEADLINE_MS + 10_000,
  );

  it(
    'npm test (a slice: a unit file, PostgreSQL, Redis, a private cluster) does the same and passes',
    async () => {
      const files = [
        'libs/domain/src/text.spec.ts',
        'libs/core/src/auth/api-key.int-spec.ts',
        'apps/api/src/throttling/redis-throttler.storage.int-spec.ts',
        'libs/db/src/runtime-role-password.int-spec.ts',
      ];
      const r = await inFreshNetwork(
        `${process.execPath} scripts/run-tests.js --runTestsByPath ${files.join(' ')}`,
        freshEnv({}),
        SLICE_DEADLINE_MS,
      );
      expect(r.output).toMatch(
        /^test: PostgreSQL: none at 127\.0\.0\.1:5432 \(the default address\): started embedded PostgreSQL 15\.\d+ .*removed at the end$/m,
      );
      expect(r.output).toMatch(
        /^test: Redis: none at 127\.0\.0\.1:6379 \(the default address\): started \S*redis-server .*stopped at the end$/m,
      );
      expect(r.output.match(/^test: (PostgreSQL|Redis):/gm)).toHaveLength(2);
      const last = r.output.trim().split('\n').pop();
      expect(last).toMatch(/^(\d+) passed, 0 failed, 0 skipped$/);
      expect(Number(/^(\d+) passed/.exec(last!)![1])).toBeGreaterThanOrEqual(10);
      expect(r.code).toBe(0);
    },
    SLICE_DEADLINE_MS + 10_000,
  );
});
