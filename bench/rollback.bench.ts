/**
 * bench:rollback — how fast does a completed 1,000,000-account wave roll back, compared with its own forward run?
 * The simulator as a child (rate limits off, 1M accounts), one worker process, the lifecycle commands in the bench
 * process (as the API would call them).
 *
 * - Forward: a wave (all remaining, IMAP+POP3, rate 1e6/s, rollback rate 1e6/s, batch 500, concurrency C) is
 *   started; its rate is members ÷ (waves.completed_at − the instant the start command returned), i.e. after the
 *   membership freeze. The start command's duration is reported separately.
 * - Rollback: `WaveCommandsService.rollback` on the completed wave (what POST /waves/{id}/rollback calls); its
 *   rate is the members queued for rollback ÷ (waves.rollback_completed_at − the instant the rollback command was
 *   called), the command included (it queues every enabled member in its transaction). Its duration is also
 *   reported separately, with the rate after it.
 * - Checks at the end: every member the wave enabled has rollback_state rolled_back (or conflict, counted; 0
 *   expected), wave_counters equal a GROUP BY over wave_members (`countersFromTruth`: forward and rollback
 *   counters), and 1,000 random members read back from the simulator have IMAP and POP3 off.
 *
 *   npm run bench:rollback [-- --accounts=1000000 --concurrency=6]
 *
 * Target: rollback ≥ 80 % of the forward rate. Last line: {"bench":"rollback","rollbackAccountsPerSecond",
 * "forwardAccountsPerSecond","ratio",...}
 */
import { countersDiff, countersFromTruth, readCounters } from '@app/testing';
import { log } from './bench-utils';
import { simAccount, waitForWave } from './engine-bench-checks';
import { ActivitySampler, CpuMeter, epochMs, round, runBench, sleep, waveBenchOptions } from './engine-bench-utils';
import { engineBenchWorld, fullSpeedWave } from './engine-bench-world';

const OPTIONS = waveBenchOptions({ accounts: 1_000_000, timeoutSeconds: 1200 });
const { accounts: ACCOUNTS, concurrency: CONCURRENCY, timeoutMs: TIMEOUT_MS } = OPTIONS;
const BATCH = 500;
const SAMPLE = 1000;

runBench('rollback', async (cleanup) => {
  const { url, sim, worker, dataSource: ds, commands } = await engineBenchWorld(cleanup, 'rollback', OPTIONS);
  const database = new URL(url).pathname.slice(1);
  const wave = await fullSpeedWave('bench: rollback everyone', CONCURRENCY, BATCH)
    .rollbackRate(1_000_000)
    .create({ commands }, 'ops:bench');

  // Progress from the counters table, every 10 s, for the log.
  let progress = true;
  const t00 = epochMs();
  const progressLog = (async () => {
    while (progress) {
      await sleep(10_000);
      if (!progress) break;
      const c = await readCounters(ds, wave.id);
      log(
        `  ${Math.round((epochMs() - t00) / 1000)} s: enabled ${c.enabled ?? 0}, skipped ${c.skipped ?? 0}, ` +
          `rolled back ${c['rollback:rolled_back'] ?? 0}, worker RSS ${worker.rssMb()} MB`,
      );
    }
  })();
  cleanup.add('stop progress log', async () => {
    progress = false;
    await progressLog;
  });

  // Forward.
  log(`forward: 1 worker process, concurrency ${CONCURRENCY}, batch ${BATCH}, rate 1e6/s…`);
  const fwdCpu = new CpuMeter({ worker: [worker.pid], simulator: [sim.pid], bench: [process.pid] }, database);
  await fwdCpu.start();
  const s0 = epochMs();
  await commands.start(wave.id, 'ops:bench');
  const s1 = epochMs();
  const fw = await waitForWave(ds, wave.id, (r) => r.state !== 'running', TIMEOUT_MS, 100);
  const forwardCpu = await fwdCpu.stop();
  if (fw.state !== 'completed') throw new Error(`wave ended ${fw.state} (${fw.status_reason})`);
  const members = fw.member_count ?? 0;
  const forwardSeconds = (fw.completed_at!.getTime() - s1) / 1000;
  const forwardRate = members / forwardSeconds;
  log(
    `forward: ${members} members in ${forwardSeconds.toFixed(1)} s after the start command ` +
      `(${Math.round(s1 - s0)} ms) = ${Math.round(forwardRate)}/s; cpu ${JSON.stringify(forwardCpu)}`,
  );

  // Rollback.
  const rbCpu = new CpuMeter({ worker: [worker.pid], simulator: [sim.pid], bench: [process.pid] }, database);
  const activity = new ActivitySampler(url);
  await activity.start();
  await rbCpu.start();
  const r0 = epochMs();
  await commands.rollback(wave.id, 'ops:bench');
  const r1 = epochMs();
  log(`rollback command returned in ${Math.round(r1 - r0)} ms`);
  const rb = await waitForWave(ds, wave.id, (r) => r.state !== 'rolling_back', TIMEOUT_MS, 100);
  const rollbackCpu = await rbCpu.stop();
  const sessions = await activity.stop(12);
  progress = false;
  await progressLog;
  if (rb.state !== 'rolled_back') throw new Error(`rollback ended ${rb.state} (${rb.status_reason})`);
  const [times] = await ds.query<{ rollback_completed_at: Date; rollback_started_at: Date }[]>(
    `SELECT rollback_started_at, rollback_completed_at FROM waves WHERE id = $1`,
    [wave.id],
  );
  const truth = await countersFromTruth(ds, wave.id);
  const rolledBackAccounts = truth['rollback:total'] ?? 0;
  const rollbackSeconds = (times.rollback_completed_at.getTime() - r0) / 1000;
  const rollbackRate = rolledBackAccounts / rollbackSeconds;
  const rollbackAfterCommandRate = rolledBackAccounts / (rollbackSeconds - (r1 - r0) / 1000);
  log(
    `rollback: ${rolledBackAccounts} accounts in ${rollbackSeconds.toFixed(1)} s from the command ` +
      `(${Math.round(r1 - r0)} ms) = ${Math.round(rollbackRate)}/s; cpu ${JSON.stringify(rollbackCpu)}`,
  );
  const peakRssMb = worker.peakRssMb();
  await worker.stop();

  // Checks.
  const mismatches = countersDiff(await readCounters(ds, wave.id), truth);
  const countersExact = Object.keys(mismatches).length === 0;
  const [left] = await ds.query<{ not_restored: string; conflict: string; enabled: string }[]>(
    `SELECT count(*) FILTER (WHERE rollback_state IS DISTINCT FROM 'rolled_back'
                               AND rollback_state IS DISTINCT FROM 'conflict') AS not_restored,
            count(*) FILTER (WHERE rollback_state = 'conflict') AS conflict,
            count(*) AS enabled
       FROM wave_members WHERE wave_id = $1 AND state = 'enabled'`,
    [wave.id],
  );
  const sample = await ds.query<{ login: string }[]>(
    `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.wave_id = $1 ORDER BY random() LIMIT $2`,
    [wave.id, SAMPLE],
  );
  let simOn = 0;
  const queue = sample.map((r) => r.login);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let login = queue.pop(); login !== undefined; login = queue.pop()) {
        const a = await simAccount(sim.adminUrl, login);
        if (a.protocols.imap || a.protocols.pop3) simOn++;
      }
    }),
  );
  const ratio = rollbackRate / forwardRate;
  const checksOk = Number(left.not_restored) === 0 && countersExact && simOn === 0;
  return {
    rollbackAccountsPerSecond: Math.round(rollbackRate),
    forwardAccountsPerSecond: Math.round(forwardRate),
    ratio: round(ratio, 3),
    pass: checksOk && ratio >= 0.8,
    target: { ratio: 0.8 },
    members,
    rolledBackAccounts,
    forwardSeconds: round(forwardSeconds, 2),
    startCommandMs: Math.round(s1 - s0),
    rollbackSeconds: round(rollbackSeconds, 2),
    rollbackCommandMs: Math.round(r1 - r0),
    rollbackAfterCommandAccountsPerSecond: Math.round(rollbackAfterCommandRate),
    ratioAfterCommands: round(rollbackAfterCommandRate / forwardRate, 3),
    // Both commands counted (the forward's start freezes the membership as the rollback's queues it), as
    // bench:wave counts the start command: for comparison only, the target is judged on `ratio`.
    ratioBothCommandsIncluded: round(rollbackRate / (members / (forwardSeconds + (s1 - s0) / 1000)), 3),
    checks: {
      enabledMembers: Number(left.enabled),
      enabledNotRestored: Number(left.not_restored),
      conflict: Number(left.conflict),
      countersExact,
      counterMismatches: mismatches,
      simSample: SAMPLE,
      simSampleStillOn: simOn,
    },
    outcomes: truth,
    peakRssMb,
    concurrency: CONCURRENCY,
    batchSize: BATCH,
    forwardCpuCores: forwardCpu,
    rollbackCpuCores: rollbackCpu,
    rollbackDbSessions: sessions,
    accounts: ACCOUNTS,
  };
});
