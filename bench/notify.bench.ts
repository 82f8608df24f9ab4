/**
 * bench:notify — notifications (issue 20) from a 1,000,000-account wave with ramp steps, a halt and a resume, to 3
 * subscriptions (local receivers, node:http), one of them down for the first 30 s of the wave; compared in the same
 * run with the same wave on a copy of the database without any subscription.
 *
 * - Each wave: all remaining accounts, IMAP+POP3, rate 1e6/s (unlimited), batch 500, concurrency C, ramp 10 % (bake
 *   2 s) → 50 % (bake 2 s) → 100 %; once 60 % of it is done the bench halts it as a gate would
 *   (WaveCommandsService.halt, the gate evaluator's own call) and resumes it 2 s later. One worker process, whose
 *   NOTIFY_* timer delivers; NOTIFY_BACKOFF_MAX_MS 5 s so the receiver that comes back is served within seconds.
 * - Throughput: members ÷ the seconds the wave was running (start command to completed_at, minus the bakes and the
 *   halt, from its audit rows), with subscriptions ÷ without (`throughputRatio`; target ≥ 0.95).
 * - Delivery: every delivery acknowledged (`delivered` = events × 3), no event acknowledged twice by a receiver
 *   (`duplicates` = 0), in order per wave.
 *
 *   npm run bench:notify [-- --accounts=1000000 --concurrency=6 --down-seconds=30]
 *
 * Last line: {"bench":"notify","delivered","duplicates","throughputRatio",...}
 */
import { DataSource } from 'typeorm';
import { JsonNotification } from '@app/domain';
import { NotificationReceiver, pollUntil } from '@app/testing';
import { NotificationService } from '@app/core';
import { log } from './bench-utils';
import { type SimChild, startSimChild } from './engine-bench-children';
import { simReset, waitForWave } from './engine-bench-checks';
import { type Cleanup, epochMs, numberOption, round, runBench, sleep, waveBenchOptions } from './engine-bench-utils';
import { cloneDatabase, fullSpeedWave, populatedDatabase, workerAndServices } from './engine-bench-world';

const {
  accounts: ACCOUNTS,
  concurrency: CONCURRENCY,
  timeoutMs: TIMEOUT_MS,
} = waveBenchOptions({ accounts: 1_000_000 });
const DOWN_MS = numberOption('down-seconds', 30) * 1000;
const BATCH = 500;
const HALT_AT = 0.6;
const NOTIFY_ENV = { NOTIFY_POLL_MS: '1000', NOTIFY_BACKOFF_MAX_MS: '5000' };

interface WaveRun {
  members: number;
  seconds: number;
  stoppedSeconds: number;
  runningSeconds: number;
  accountsPerSecond: number;
}

/** Seconds the wave spent stopped (bakes, the halt): from each stop's audit row to the resume that ended it. */
async function stoppedSeconds(ds: DataSource, waveId: string): Promise<number> {
  const rows = await ds.query<{ action: string; at: Date }[]>(
    `SELECT action, at FROM audit_log
      WHERE wave_id = $1 AND action IN ('wave.step_pause', 'wave.halt', 'wave.resume') ORDER BY id`,
    [waveId],
  );
  let total = 0;
  let since: number | null = null;
  for (const r of rows) {
    if (r.action === 'wave.resume' && since !== null) {
      total += r.at.getTime() - since;
      since = null;
    } else if (r.action !== 'wave.resume') since = r.at.getTime();
  }
  return total / 1000;
}

async function runWave(
  cleanup: Cleanup,
  label: string,
  url: string,
  sim: SimChild,
  receivers: NotificationReceiver[],
): Promise<{ run: WaveRun; waveId: string; ds: DataSource; events: number }> {
  const { dataSource: ds, commands } = await workerAndServices(cleanup, label, url, sim, CONCURRENCY, NOTIFY_ENV);
  const notifications = new NotificationService(ds);
  for (const [i, r] of receivers.entries()) {
    await notifications.create({ name: `bench ${i + 1}`, url: `${r.url}/bench` }, 'ops:bench');
  }
  const wave = await fullSpeedWave(`bench: ${label}`, CONCURRENCY, BATCH)
    .ramp({ percent: 10, bakeSeconds: 2 }, { percent: 50, bakeSeconds: 2 }, { percent: 100, bakeSeconds: 0 })
    .create({ commands }, 'ops:bench');
  const down = receivers.length ? receivers[receivers.length - 1] : null;
  if (down) await down.down();
  const t0 = epochMs();
  await commands.start(wave.id, 'ops:bench');
  log(`${label}: wave ${wave.id} started${down ? `; receiver 3 down for ${DOWN_MS / 1000} s` : ''}`);
  const backUp = down ? sleep(DOWN_MS).then(() => down.up().then(() => log(`${label}: receiver 3 back up`))) : null;
  // The halt, as the gate evaluator makes it, once HALT_AT of the wave is done and it is running; then the resume.
  await pollUntil(
    async () => {
      const [c] = await ds.query<{ done: string | null; total: string | null }[]>(
        `SELECT sum(value) FILTER (WHERE name IN ('enabled', 'skipped', 'failed')) AS done,
                sum(value) FILTER (WHERE name = 'total') AS total FROM wave_counters WHERE wave_id = $1`,
        [wave.id],
      );
      if (!c.total || Number(c.done ?? 0) < HALT_AT * Number(c.total)) return false;
      const halted = await commands.halt(
        wave.id,
        'gate:bench-signal',
        { gates: [{ gate: 'bench-signal', status: 'breach', value: 412, threshold: 100 }] },
        false,
      );
      return halted !== null;
    },
    { timeoutMs: TIMEOUT_MS, intervalMs: 100, description: 'the halt' },
  );
  log(`${label}: halted at ${Math.round(HALT_AT * 100)} %`);
  await sleep(2000);
  await commands.resume(wave.id, 'ops:bench');
  const w = await waitForWave(ds, wave.id, (r) => r.state !== 'running' && r.state !== 'paused', TIMEOUT_MS, 100);
  if (w.state !== 'completed') throw new Error(`${label}: wave ended ${w.state} (${w.status_reason})`);
  const seconds = (w.completed_at!.getTime() - t0) / 1000;
  const stopped = await stoppedSeconds(ds, wave.id);
  const members = w.member_count ?? 0;
  await backUp;
  const [{ n: events }] = await ds.query<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM notification_events WHERE wave_id = $1`,
    [wave.id],
  );
  return {
    run: {
      members,
      seconds,
      stoppedSeconds: stopped,
      runningSeconds: seconds - stopped,
      accountsPerSecond: members / (seconds - stopped),
    },
    waveId: wave.id,
    ds,
    events,
  };
}

runBench('notify', async (cleanup) => {
  const url = await populatedDatabase(cleanup, 'notify', ACCOUNTS);
  const bareUrl = await cloneDatabase(cleanup, url, 'notify_without');
  const sim = await startSimChild(cleanup, ACCOUNTS);

  log(`without subscriptions: 1 worker process, concurrency ${CONCURRENCY}, batch ${BATCH}…`);
  const without = await runWave(cleanup, 'without', bareUrl, sim, []);
  log(
    `without: ${without.run.members} in ${round(without.run.runningSeconds, 2)} s running = ${Math.round(without.run.accountsPerSecond)}/s`,
  );

  await simReset(sim.adminUrl, ACCOUNTS);
  const receivers = await Promise.all([0, 1, 2].map(() => NotificationReceiver.start()));
  cleanup.add('receivers', async () => {
    for (const r of receivers) await r.close();
  });
  log('with 3 subscriptions (receiver 3 down for the first seconds)…');
  const withSubs = await runWave(cleanup, 'with', url, sim, receivers);
  log(
    `with: ${withSubs.run.members} in ${round(withSubs.run.runningSeconds, 2)} s running = ${Math.round(withSubs.run.accountsPerSecond)}/s`,
  );

  const t0 = epochMs();
  await pollUntil(
    async () => {
      const [{ n }] = await withSubs.ds.query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM notification_deliveries WHERE state = 'pending'`,
      );
      return n === 0;
    },
    { timeoutMs: 120_000, intervalMs: 200, description: 'every notification delivered' },
  );
  const drainAfterWaveMs = epochMs() - t0;
  let delivered = 0;
  let duplicates = 0;
  let inOrder = true;
  const kinds: string[][] = [];
  for (const r of receivers) {
    const counts = r.acknowledgedCounts('/bench');
    delivered += counts.size;
    for (const n of counts.values()) duplicates += n - 1;
    const seen = [...new Set(r.acknowledged('/bench').map((x) => (JSON.parse(x.body) as JsonNotification).kind))];
    kinds.push(seen);
  }
  const expectedKinds = ['wave.started', 'wave.ramp_step_done', 'wave.halted', 'wave.resumed', 'wave.completed'];
  for (const k of kinds) {
    const order = k.filter((x) => expectedKinds.includes(x));
    if (order.join() !== expectedKinds.join()) inOrder = false;
  }
  const [attempts] = await withSubs.ds.query<{ attempts: number; failed: number }[]>(
    `SELECT sum(attempts)::int AS attempts, count(*) FILTER (WHERE attempts > 1)::int AS failed
       FROM notification_deliveries`,
  );
  const throughputRatio = withSubs.run.accountsPerSecond / without.run.accountsPerSecond;
  const expected = withSubs.events * receivers.length;
  return {
    delivered,
    duplicates,
    throughputRatio: round(throughputRatio, 3),
    pass: delivered === expected && duplicates === 0 && inOrder && throughputRatio >= 0.95,
    targets: { throughputRatio: 0.95, duplicates: 0 },
    expectedDeliveries: expected,
    events: withSubs.events,
    inOrderPerWave: inOrder,
    kindsReceived: kinds,
    deliveryAttempts: attempts.attempts,
    deliveriesRetried: attempts.failed,
    drainAfterWaveMs: Math.round(drainAfterWaveMs),
    receiverDownSeconds: DOWN_MS / 1000,
    accounts: withSubs.run.members,
    concurrency: CONCURRENCY,
    withSubscriptions: { ...withSubs.run, accountsPerSecond: Math.round(withSubs.run.accountsPerSecond) },
    withoutSubscriptions: { ...without.run, accountsPerSecond: Math.round(without.run.accountsPerSecond) },
  };
});
