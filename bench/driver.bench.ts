/**
 * bench:driver — a 100,000-account wave through the `dovecot-sql` driver on PostgreSQL (issue 18), with no rate limit
 * (the wave's rate 1e6/s, the driver's advertised pace raised as far), next to a bare loop doing the same batched
 * `UPDATE … RETURNING` on the same passdb table in the same run.
 *
 * - Service: one worker process (MAILSTORE_DRIVER=dovecot-sql) on a passdb table of deploy/dovecot's shape (a column
 *   per protocol and a version column); a wave over every account (IMAP+POP3, batch 500, concurrency C), timed from
 *   the start command to completed_at. Every member must be terminal and every enabled login open in the passdb.
 * - Bare loop: the passdb flags put back to closed (not timed), then C connections each taking the next 500 of the
 *   logins the service enabled and running one statement that locks, reads the prior state, writes and returns:
 *   the physical minimum of what the driver does per batch.
 * Both rates are enabled accounts per second.
 *
 *   npm run bench:driver [-- --accounts=100000 --concurrency=6]
 *
 * Target: ratio ≥ 0.5. Last line: {"bench":"driver","accountsPerSecond","bareLoopAccountsPerSecond","ratio",…}
 */
import { Pool } from 'pg';
import { quoteIdent } from '@app/db';
import { dovecotSqlEnv, seedMailUsersTable, withPgClient } from '@app/testing';
import { benchDatabaseUrl, BENCH_SERVER_URL, dropDatabase, log } from './bench-utils';
import { waitForWave } from './engine-bench-checks';
import { type Cleanup, CpuMeter, epochMs, round, runBench, waveBenchOptions } from './engine-bench-utils';
import { fullSpeedWave, populatedDatabase, workerAndServices } from './engine-bench-world';

const {
  accounts: ACCOUNTS,
  concurrency: CONCURRENCY,
  timeoutMs: TIMEOUT_MS,
} = waveBenchOptions({ accounts: 100_000, timeoutSeconds: 600 });
const BATCH = 500;

/** The passdb database: deploy/dovecot/README.md's table, user1..userN@example.test, every protocol closed. */
async function passdbDatabase(cleanup: Cleanup): Promise<string> {
  const url = benchDatabaseUrl('driver_passdb');
  cleanup.add(`drop ${url}`, () => dropDatabase(url));
  await withPgClient(BENCH_SERVER_URL, (c) => c.query(`CREATE DATABASE ${quoteIdent(new URL(url).pathname.slice(1))}`));
  await withPgClient(url, async (c) => {
    await seedMailUsersTable(c, ACCOUNTS, 'x');
    await c.query('VACUUM ANALYZE mail_users');
  });
  return url;
}

async function openLogins(passdbUrl: string): Promise<number> {
  return withPgClient(passdbUrl, async (c) => {
    const r = await c.query<{ n: string }>('SELECT count(*) AS n FROM mail_users WHERE imap_enabled AND pop3_enabled');
    return Number(r.rows[0].n);
  });
}

async function serviceWave(cleanup: Cleanup, url: string, passdbUrl: string) {
  const env = {
    ...dovecotSqlEnv({ url: passdbUrl, table: 'mail_users' }),
    DOVECOT_SQL_MAX_BATCH_ITEMS: String(BATCH),
    // No rate limit: the pace the driver advertises is out of reach.
    DOVECOT_SQL_REQUESTS_PER_SECOND: '1000000',
    DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND: '100000000',
  };
  const unused = { baseUrl: 'http://127.0.0.1:9/v1' }; // MAILSTORE_URL: not read by this driver
  const {
    worker,
    dataSource: ds,
    commands,
  } = await workerAndServices(cleanup, 'driver', url, unused, CONCURRENCY, env);
  const wave = await fullSpeedWave('bench: dovecot-sql', CONCURRENCY, BATCH).create({ commands }, 'ops:bench');
  const cpu = new CpuMeter({ worker: [worker.pid], bench: [process.pid] });
  await cpu.start();
  const t0 = epochMs();
  await commands.start(wave.id, 'ops:bench');
  const w = await waitForWave(ds, wave.id, (r) => r.state !== 'running', TIMEOUT_MS, 100);
  const usage = await cpu.stop();
  if (w.state !== 'completed') throw new Error(`wave ended ${w.state} (${w.status_reason})`);
  const seconds = (w.completed_at!.getTime() - t0) / 1000;
  const enabled = await ds.query<{ login: string }[]>(
    `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq`,
    [wave.id],
  );
  const [open] = await ds.query<{ n: string }[]>(
    `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND state IN ('pending', 'in_flight')`,
    [wave.id],
  );
  await worker.stop();
  return {
    members: w.member_count ?? 0,
    logins: enabled.map((r) => r.login),
    seconds,
    nonTerminal: Number(open.n),
    peakRssMb: worker.peakRssMb(),
    cpu: usage,
  };
}

/** C connections, each taking the next batch of logins: one statement per batch that locks, reads, writes, returns. */
async function bareLoop(passdbUrl: string, logins: readonly string[]) {
  await withPgClient(passdbUrl, async (c) => {
    await c.query('UPDATE mail_users SET imap_enabled = false, pop3_enabled = false');
    await c.query('VACUUM ANALYZE mail_users');
  });
  const pool = new Pool({ connectionString: passdbUrl, max: CONCURRENCY, application_name: 'bench-driver-bare' });
  // pool.end() resolves once its clients are told to end, not once they have: the cleanup's DROP DATABASE … WITH
  // (FORCE) may still terminate one, whose 'error' the pool re-emits; unheard, it crashed the bench after its figures.
  pool.on('error', (err) => log(`bare loop pool: ${err.message} (after the loop; ignored)`));
  try {
    let next = 0;
    let changed = 0;
    const cpu = new CpuMeter({ bench: [process.pid] });
    await cpu.start();
    const t0 = performance.now();
    const slot = async () => {
      for (;;) {
        const batch = logins.slice(next, next + BATCH);
        next += BATCH;
        if (!batch.length) return;
        const r = await pool.query(
          `WITH p AS (
             SELECT email, imap_enabled, pop3_enabled, access_version FROM mail_users
              WHERE email = ANY($1::text[]) FOR UPDATE)
           UPDATE mail_users AS t SET imap_enabled = true, pop3_enabled = true, access_version = p.access_version + 1
             FROM p WHERE t.email = p.email
           RETURNING t.email, p.imap_enabled AS prior_imap, p.pop3_enabled AS prior_pop3, t.access_version`,
          [batch],
        );
        changed += r.rowCount ?? 0;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, slot));
    const seconds = (performance.now() - t0) / 1000;
    const usage = await cpu.stop();
    if (changed !== logins.length) throw new Error(`bare loop changed ${changed} of ${logins.length}`);
    return { seconds, accountsPerSecond: changed / seconds, cpu: usage };
  } finally {
    await pool.end();
  }
}

runBench('driver', async (cleanup) => {
  const url = await populatedDatabase(cleanup, 'driver', ACCOUNTS);
  const passdbUrl = await passdbDatabase(cleanup);
  log(`service: 1 worker process (dovecot-sql on PostgreSQL), wave concurrency ${CONCURRENCY}, batch ${BATCH}…`);
  const svc = await serviceWave(cleanup, url, passdbUrl);
  const opened = await openLogins(passdbUrl);
  const accountsPerSecond = svc.logins.length / svc.seconds;
  log(
    `service: ${svc.members} members, ${svc.logins.length} enabled in ${svc.seconds.toFixed(2)} s = ` +
      `${Math.round(accountsPerSecond)}/s; ${opened} logins open in the passdb; cpu ${JSON.stringify(svc.cpu)}`,
  );
  log(`bare loop: ${CONCURRENCY} connections, batches of ${BATCH}, the same ${svc.logins.length} logins…`);
  const bare = await bareLoop(passdbUrl, svc.logins);
  log(`bare loop: ${svc.logins.length} in ${bare.seconds.toFixed(2)} s = ${Math.round(bare.accountsPerSecond)}/s`);
  const ratio = accountsPerSecond / bare.accountsPerSecond;
  const ok = svc.nonTerminal === 0 && opened === svc.logins.length;
  if (!ok) process.exitCode = 1;
  return {
    accountsPerSecond: Math.round(accountsPerSecond),
    bareLoopAccountsPerSecond: Math.round(bare.accountsPerSecond),
    ratio: round(ratio, 2),
    target: 0.5,
    accounts: ACCOUNTS,
    members: svc.members,
    enabled: svc.logins.length,
    openInPassdb: opened,
    nonTerminal: svc.nonTerminal,
    seconds: round(svc.seconds, 2),
    bareSeconds: round(bare.seconds, 2),
    concurrency: CONCURRENCY,
    batch: BATCH,
    peakRssMb: svc.peakRssMb,
    cpu: svc.cpu,
    bareCpu: bare.cpu,
    ok,
  };
});
