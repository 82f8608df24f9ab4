/**
 * bench:attack — how long a credential-stuffing burst goes on reopening accounts before a gate stops the wave
 * (issue 19): from the first failed login of the burst to the last change Dovecot's passdb saw.
 *
 * The world of test/e2e/login-gates-real.e2e-spec.ts, from the same home (libs/testing/src/real-login-world.ts): a
 * real Dovecot (dovecot-sql on PostgreSQL, deploy/dovecot's events.conf as is, posting each login to the API), a real
 * Prometheus scraping Dovecot's stats listener every BENCH_PROM_INTERVAL_SECONDS (5; rules evaluated as often), the
 * built API and a worker (dovecot-sql driver). The control cohort's users log in all along (the stream is alive, the
 * gate's baseline real).
 *
 * Two runs, each a slow wave (1 account/s, one per batch) over fresh accounts, attacked once 3 accounts are open by
 * BENCH_ATTACKERS (4) concurrent loops of wrong passwords (IMAP and POP3, a new connection per try) on the accounts
 * it opened, until the wave stops:
 * - haltMs: the login-event gate (failure ratio over 30 s ≥ 0.3 and 3 × the control cohort's, 5 samples) halts it;
 *   target ≤ 5,000 ms;
 * - promHaltMs: a Prometheus gate, `sum(rate(dovecot_auth_failures_total[20s])) > 0.5`, evaluated every 5 s against
 *   the 5 s scrape, halts it; target ≤ 20,000 ms.
 * The watcher reads the passdb every 50 ms, behind the service's back. Last line: JSON.
 */
import 'reflect-metadata';
import { loadavg } from 'node:os';
import type { Gate } from '@app/domain';
import {
  attackGatedWave,
  closeTestRun,
  openTestRun,
  pollUntil,
  promFailuresGate,
  startControlUsers,
  startRealLoginWorld,
  STUFFING_GATE,
} from '@app/testing';
import { conditions, log } from './bench-utils';

const ATTACKERS = Number(process.env.BENCH_ATTACKERS ?? 4);
const PROM_INTERVAL_SECONDS = Number(process.env.BENCH_PROM_INTERVAL_SECONDS ?? 5);
/** Accounts per wave: at 1 a second the wave must outlast the slower gate by far. */
const WAVE_ACCOUNTS = 60;

const stuffing = STUFFING_GATE;
/** A rate over four scrapes: one scrape interval alone holds at most one sample. */
const FAILURE_RATE = `sum(rate(dovecot_auth_failures_total[${4 * PROM_INTERVAL_SECONDS}s]))`;
const promFailures = promFailuresGate(FAILURE_RATE, PROM_INTERVAL_SECONDS, 'result > 0.5');

async function main(): Promise<void> {
  // The tests' run (a migrated template database each world clones), as Jest's global setup makes it.
  await openTestRun();
  try {
    await attack();
  } finally {
    await closeTestRun();
  }
}

async function attack(): Promise<void> {
  const world = await startRealLoginWorld('bench-attack', {
    general: 2 * WAVE_ACCOUNTS,
    prometheusIntervalSeconds: PROM_INTERVAL_SECONDS,
  });
  let users: { stop(): Promise<void> } | undefined;
  try {
    const h = world.api.h;
    users = await startControlUsers(world);
    const run = async (name: string, gate: Gate) => {
      const { waveId, logins, haltMs, open } = await attackGatedWave(world, name, gate, {
        accounts: WAVE_ACCOUNTS,
        attackers: ATTACKERS,
      });
      const status = await h.waveStatus(waveId);
      log(`${name}: ${haltMs} ms, ${open.size} of ${logins.length} open, ${JSON.stringify(status)}`);
      if (status.state !== 'halted' || status.status_reason !== `gate:${gate.name}`) {
        throw new Error(`${name}: the wave ended ${JSON.stringify(status)}, not halted by ${gate.name}`);
      }
      return { haltMs, openedAtEnd: open.size };
    };
    const events = await run('stuffed', stuffing);
    // The Prometheus run starts once the first burst has left the rate window.
    await pollUntil(async () => (await world.promValue(FAILURE_RATE)) === 0, {
      timeoutMs: 120_000,
      intervalMs: 1000,
      description: 'no failed login in the rate window',
    });
    const prom = await run('stuffed-prom', promFailures);
    process.stdout.write(
      `${JSON.stringify({
        bench: 'attack',
        haltMs: events.haltMs,
        promHaltMs: prom.haltMs,
        attackers: ATTACKERS,
        promIntervalSeconds: PROM_INTERVAL_SECONDS,
        promQuery: `${FAILURE_RATE} > 0.5`,
        waveAccounts: WAVE_ACCOUNTS,
        openedAtEnd: { events: events.openedAtEnd, prometheus: prom.openedAtEnd },
        loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
        targets: { haltMs: 5000, promHaltMs: 20_000 },
        ...(await conditions()),
      })}\n`,
    );
  } finally {
    await users?.stop();
    await world.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
