/**
 * bench:wave — a 1,000,000-account wave against the simulator (child process, rate limits off, 1M accounts) with
 * one worker process, compared in the same run with a bare loop doing the physical minimum on the same data.
 *
 * - Service: import 1M accounts (not timed), create a wave (all remaining, IMAP+POP3, rate 1e6/s: unlimited,
 *   batch 500, concurrency C), then time from the start command (membership freeze included) to the wave's
 *   completed_at. Every member must be terminal, wave_counters must equal a GROUP BY over wave_members, and the
 *   worker's peak RSS (VmHWM) must be ≤ 250 MB.
 * - Bare loop (a copy of the same database, the simulator reset to 1M fresh accounts): 4 batches in flight, each
 *   `UPDATE … WHERE seq = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED LIMIT 500)) RETURNING` → one batch call →
 *   one transaction marking the members done + one ledger row each (unnest) + one counters update.
 *
 *   npm run bench:wave [-- --accounts=1000000 --concurrency=6 --no-bare]
 *
 * Target: service ≥ 50 % of the bare loop. Last line: {"bench":"wave","accountsPerSecond","bareLoopAccountsPerSecond",
 * "ratio","peakRssMb","accounts",...}
 */
import { Pool as PgPool } from 'pg';
import { Pool as HttpPool } from 'undici';
import { log } from './bench-utils';
import { type SimChild, startSimChild } from './engine-bench-children';
import { batchPhases, checkCounters, simReset, waitForWave } from './engine-bench-checks';
import {
  ActivitySampler,
  type Cleanup,
  CpuMeter,
  epochMs,
  round,
  runBench,
  sleep,
  waveBenchOptions,
} from './engine-bench-utils';
import { cloneDatabase, fullSpeedWave, populatedDatabase, workerAndServices } from './engine-bench-world';

const {
  accounts: ACCOUNTS,
  concurrency: CONCURRENCY,
  timeoutMs: TIMEOUT_MS,
} = waveBenchOptions({ accounts: 1_000_000 });
const BATCH = 500;
const BARE_IN_FLIGHT = 4;
/** `--no-bare`: service only (for tuning the concurrency); the ratio is then not computed. */
const BARE = !process.argv.includes('--no-bare');

interface BareResult {
  accounts: number;
  seconds: number;
  freezeMs: number;
  accountsPerSecond: number;
  cpu: Record<string, number>;
  sessions: Record<string, number>;
}

/** The physical limit: claim, one batch call, settle; nothing else. */
async function bareLoop(url: string, sim: SimChild): Promise<BareResult> {
  const pg = new PgPool({ connectionString: url, max: BARE_IN_FLIGHT, application_name: 'bench-bare-loop' });
  const http = new HttpPool(new URL(sim.baseUrl).origin, { connections: BARE_IN_FLIGHT, pipelining: 1 });
  try {
    const [{ id: waveId }] = (
      await pg.query<{ id: string }>(
        `INSERT INTO waves (name, selector, protocols, state, rate_per_second, rollback_rate_per_second, batch_size,
                            concurrency, created_by)
         VALUES ('bare loop', '{"type":"remaining"}', '{imap,pop3}', 'running', 1e6, 1e6, $1, $2, 'bench')
         RETURNING id`,
        [BATCH, BARE_IN_FLIGHT],
      )
    ).rows;
    const f0 = performance.now();
    await pg.query(
      `INSERT INTO wave_members (wave_id, seq, account_id)
       SELECT $1, row_number() OVER (ORDER BY id), id FROM accounts`,
      [waveId],
    );
    const freezeMs = performance.now() - f0;
    // Statistics, so the claim's plan is the index scan it should be: without them (autovacuum may not have run
    // yet) the planner may sort every pending member on each claim, and the loop is no longer a physical limit.
    await pg.query('ANALYZE wave_members');
    const cpu = new CpuMeter({ bench: [process.pid], simulator: [sim.pid] }, new URL(url).pathname.slice(1));
    let done = 0;
    let batchNo = 0;
    const slot = async (): Promise<void> => {
      const client = await pg.connect();
      try {
        for (;;) {
          const { rows } = await client.query<{ seq: number; account_id: string; login: string }>(
            `WITH c AS (
               UPDATE wave_members m SET state = 'in_flight', attempts = m.attempts + 1
                WHERE m.wave_id = $1 AND m.seq = ANY(ARRAY(
                  SELECT seq FROM wave_members WHERE wave_id = $1 AND state = 'pending'
                   ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED))
               RETURNING m.seq, m.account_id)
             SELECT c.seq, c.account_id, a.login FROM c JOIN accounts a ON a.id = c.account_id`,
            [waveId, BATCH],
          );
          if (!rows.length) return;
          const body = JSON.stringify({
            items: rows.map((r) => ({ account: r.login, protocols: { imap: true, pop3: true } })),
            revokeSessions: false,
            reason: 'bare loop',
          });
          const res = await http.request({
            path: '/v1/access/batch',
            method: 'POST',
            headers: {
              authorization: 'Bearer sim-token',
              'content-type': 'application/json',
              'idempotency-key': `bare-${waveId}-${batchNo++}`,
            },
            body,
          });
          const text = await res.body.text();
          if (res.statusCode !== 200) throw new Error(`bare loop: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
          const answer = JSON.parse(text) as { results: { status: string }[] };
          if (answer.results.length !== rows.length) throw new Error('bare loop: wrong number of results');
          await client.query('BEGIN');
          await client.query(
            `UPDATE wave_members SET state = 'enabled', done_at = now() WHERE wave_id = $1 AND seq = ANY($2::int[])`,
            [waveId, rows.map((r) => r.seq)],
          );
          await client.query(
            `INSERT INTO audit_log (actor, action, wave_id, account_id, login)
             SELECT 'bench', 'member.' || s, $1, a, l FROM unnest($2::bigint[], $3::text[], $4::text[]) AS t(a, l, s)`,
            [waveId, rows.map((r) => r.account_id), rows.map((r) => r.login), answer.results.map((r) => r.status)],
          );
          await client.query(
            `INSERT INTO wave_counters (wave_id, name, value) VALUES ($1, 'enabled', $2)
             ON CONFLICT (wave_id, name) DO UPDATE SET value = wave_counters.value + EXCLUDED.value`,
            [waveId, rows.length],
          );
          await client.query('COMMIT');
          done += rows.length;
        }
      } finally {
        client.release();
      }
    };
    const activity = new ActivitySampler(url);
    await activity.start();
    await cpu.start();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BARE_IN_FLIGHT }, () => slot()));
    const seconds = (performance.now() - t0) / 1000;
    const usage = await cpu.stop();
    const sessions = await activity.stop(8);
    if (done !== ACCOUNTS) throw new Error(`bare loop settled ${done} of ${ACCOUNTS}`);
    return { accounts: done, seconds, freezeMs, accountsPerSecond: done / seconds, cpu: usage, sessions };
  } finally {
    await http.close();
    await pg.end();
  }
}

async function serviceWave(cleanup: Cleanup, url: string, sim: SimChild) {
  const { worker, dataSource: ds, commands } = await workerAndServices(cleanup, 'wave', url, sim, CONCURRENCY);
  const wave = await fullSpeedWave('bench: everyone', CONCURRENCY, BATCH).create({ commands }, 'ops:bench');
  const cpu = new CpuMeter(
    { worker: [worker.pid], simulator: [sim.pid], bench: [process.pid] },
    new URL(url).pathname.slice(1),
  );
  const activity = new ActivitySampler(url);
  await activity.start();
  await cpu.start();
  const t0 = epochMs();
  await commands.start(wave.id, 'ops:bench');
  const startCommandMs = epochMs() - t0;
  log(`wave ${wave.id} started (start command incl. membership freeze: ${Math.round(startCommandMs)} ms)`);
  // Progress from the counters table (cheap), once a second, for the log.
  let progress = true;
  const progressLog = (async () => {
    while (progress) {
      await sleep(5000);
      if (!progress) break;
      const [c] = await ds.query<{ enabled: string | null; done: string | null }[]>(
        `SELECT sum(value) FILTER (WHERE name = 'enabled') AS enabled,
                sum(value) FILTER (WHERE name IN ('enabled', 'skipped', 'failed')) AS done
           FROM wave_counters WHERE wave_id = $1`,
        [wave.id],
      );
      log(
        `  ${Math.round((epochMs() - t0) / 1000)} s: ${c.done ?? 0} terminal (${c.enabled ?? 0} enabled), ` +
          `worker RSS ${worker.rssMb()} MB`,
      );
    }
  })();
  let w;
  try {
    w = await waitForWave(ds, wave.id, (r) => r.state !== 'running', TIMEOUT_MS, 100);
  } finally {
    progress = false;
    await progressLog;
  }
  const usage = await cpu.stop();
  const sessions = await activity.stop(12);
  if (w.state !== 'completed') throw new Error(`wave ended ${w.state} (${w.status_reason})`);
  const seconds = (w.completed_at!.getTime() - t0) / 1000;
  const afterStartSeconds = seconds - startCommandMs / 1000;
  const peakRssMb = worker.peakRssMb();
  const check = await checkCounters(ds, wave.id);
  const [open] = await ds.query<{ n: string }[]>(
    `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND state IN ('pending', 'in_flight')`,
    [wave.id],
  );
  const phases = await batchPhases(ds, wave.id);
  await worker.stop();
  return {
    members: w.member_count ?? 0,
    seconds,
    startCommandMs,
    afterStartSeconds,
    peakRssMb,
    countersExact: check.exact,
    outcomes: check.truth,
    counters: check.counters,
    nonTerminal: Number(open.n),
    phases,
    cpu: usage,
    sessions,
  };
}

runBench('wave', async (cleanup) => {
  const url = await populatedDatabase(cleanup, 'wave', ACCOUNTS);
  const bareUrl = BARE ? await cloneDatabase(cleanup, url, 'wave_bare') : null;
  const sim = await startSimChild(cleanup, ACCOUNTS);

  log(`service: 1 worker process, wave concurrency ${CONCURRENCY}, batch ${BATCH}, rate 1e6/s…`);
  const svc = await serviceWave(cleanup, url, sim);
  const accountsPerSecond = svc.members / svc.seconds;
  log(
    `service: ${svc.members} accounts in ${svc.seconds.toFixed(2)} s = ${Math.round(accountsPerSecond)}/s ` +
      `(start command ${Math.round(svc.startCommandMs)} ms), peak RSS ${svc.peakRssMb} MB, cpu ${JSON.stringify(svc.cpu)}`,
  );

  let bare: BareResult | null = null;
  if (bareUrl) {
    await simReset(sim.adminUrl, ACCOUNTS);
    log(`bare loop: ${BARE_IN_FLIGHT} batches of ${BATCH} in flight on a copy of the database…`);
    bare = await bareLoop(bareUrl, sim);
    log(
      `bare loop: ${bare.accounts} accounts in ${bare.seconds.toFixed(2)} s = ${Math.round(bare.accountsPerSecond)}/s ` +
        `(membership insert ${Math.round(bare.freezeMs)} ms, not timed), cpu ${JSON.stringify(bare.cpu)}`,
    );
  }

  const ratio = bare ? accountsPerSecond / bare.accountsPerSecond : null;
  const ok = svc.peakRssMb <= 250 && svc.countersExact && svc.nonTerminal === 0;
  return {
    accountsPerSecond: Math.round(accountsPerSecond),
    bareLoopAccountsPerSecond: bare ? Math.round(bare.accountsPerSecond) : null,
    ratio: ratio === null ? null : round(ratio, 3),
    peakRssMb: svc.peakRssMb,
    accounts: svc.members,
    pass: ratio === null ? null : ok && ratio >= 0.5,
    targets: { ratio: 0.5, peakRssMb: 250 },
    concurrency: CONCURRENCY,
    batchSize: BATCH,
    waveSeconds: round(svc.seconds, 2),
    startCommandMs: Math.round(svc.startCommandMs),
    afterStartAccountsPerSecond: Math.round(svc.members / svc.afterStartSeconds),
    ratioAfterStart: bare ? round(svc.members / svc.afterStartSeconds / bare.accountsPerSecond, 3) : null,
    countersExact: svc.countersExact,
    nonTerminal: svc.nonTerminal,
    outcomes: svc.outcomes,
    batchPhasesMs: svc.phases,
    serviceCpuCores: svc.cpu,
    serviceDbSessions: svc.sessions,
    ...(bare
      ? {
          bareLoopSeconds: round(bare.seconds, 2),
          bareLoopMembershipInsertMs: Math.round(bare.freezeMs),
          bareLoopCpuCores: bare.cpu,
          bareLoopDbSessions: bare.sessions,
        }
      : {}),
  };
});
