/**
 * bench:curl-compare — "why not just a shell loop?" One run, one simulator (child process) with the contract's
 * example rate limits (DEFAULT_RATE_LIMITS: 20 requests/s burst 40 and 200 account updates/s burst 500, per
 * token: what capabilities advertise and what a provider gateway enforces), the same 20,000 accounts reopened
 * (IMAP+POP3) two ways, the simulator reset to 20,000 closed accounts before each:
 *
 * 1. Shell loop: the logins, one a line, piped into `xargs -P 32 -n 1` running `curl` through `sh -c` (one
 *    PATCH /v1/accounts/{login}/access per account, bearer token, one Idempotency-Key per account); no pacing,
 *    no retry. Timed from spawn to exit; curl prints `%{http_code}` per call.
 * 2. Service: the same population (populationCsv, seed 42) imported into a fresh database (not timed), a wave
 *    (all remaining, IMAP+POP3, at the provider's 200 updates/s), one worker process; timed from the start
 *    command to waves.completed_at.
 *
 * Both sides are counted from the simulator's call log (calls, 429s, 5xx, accounts changed) and the population
 * generator (leaked, password not changed since the incident). Relative figures: both sides in one run.
 *
 *   npm run bench:curl-compare [-- --accounts=20000 --parallel=32 --concurrency=8]
 *
 * Last line: {"bench":"curl-compare","accounts","curlSeconds",...,"serviceSeconds",...,"priorStateRecorded",...}
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { passwordResetRequired } from '@app/domain';
import { DEFAULT_RATE_LIMITS } from '@app/mailstore-sim';
import { aWave, DEFAULT_INCIDENT_AT, populationAccount } from '@app/testing';
import { log } from './bench-utils';
import { type SimChild, startSimChild } from './engine-bench-children';
import { type SimCall, simCalls, simLastSeq, simReset, waitForWave } from './engine-bench-checks';
import { type Cleanup, CpuMeter, epochMs, numberOption, POPULATION_SEED, round, runBench } from './engine-bench-utils';
import { populatedDatabase, workerAndServices } from './engine-bench-world';

const ACCOUNTS = numberOption('accounts', 20_000);
const PARALLEL = numberOption('parallel', 32);
/** The provider's account-update budget: the fastest a client may go without being refused. */
const RATE = numberOption('rate', DEFAULT_RATE_LIMITS.accountUpdatesPerSecond);
const CONCURRENCY = numberOption('concurrency', 8);
const TIMEOUT_MS = numberOption('timeout-seconds', 1800) * 1000;

/** What a team without the service would type; `times` adds the CPU its children used (on stderr). */
const SHELL_LOOP = `cat "$LIST" | xargs -P "$PARALLEL" -n 1 sh -c 'curl -sS -o /dev/null -w "%{http_code}\\n" --max-time 30 \\
  -X PATCH -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -H "Idempotency-Key: reopen-$1" \\
  --data "{\\"protocols\\":{\\"imap\\":true,\\"pop3\\":true},\\"reason\\":\\"reopen\\"}" "$BASE/accounts/$1/access"' _
rc=$?; times >&2; exit $rc`;

/** From the simulator's call log: calls per endpoint, 429s, 5xx, and the accounts a call changed (enabled). */
function tally(calls: readonly SimCall[]) {
  const byEndpoint: Record<string, number> = {};
  for (const c of calls) byEndpoint[c.endpoint] = (byEndpoint[c.endpoint] ?? 0) + 1;
  return {
    calls: calls.length,
    byEndpoint,
    status429: calls.filter((c) => c.status === 429).length,
    status5xx: calls.filter((c) => c.status >= 500).length,
    enabled: new Set(calls.flatMap((c) => c.applied)),
  };
}

function countIn(set: ReadonlySet<string>, of: ReadonlySet<string>): number {
  let n = 0;
  for (const x of set) if (of.has(x)) n++;
  return n;
}

/** The logins and those whose password was leaked and not changed since the incident (seed 42, as imported). */
function population(count: number): { logins: string[]; resetRequired: Set<string> } {
  const incident = new Date(DEFAULT_INCIDENT_AT);
  const logins: string[] = [];
  const resetRequired = new Set<string>();
  for (let n = 1; n <= count; n++) {
    const a = populationAccount(n, { count, seed: POPULATION_SEED });
    logins.push(a.login);
    const changed = a.passwordChangedAt ? new Date(a.passwordChangedAt) : null;
    if (passwordResetRequired({ leaked: a.leaked, passwordChangedAt: changed }, incident)) resetRequired.add(a.login);
  }
  return { logins, resetRequired };
}

function requireTools(): void {
  for (const tool of ['curl', 'xargs', 'sh']) {
    if (spawnSync('bash', ['-c', `command -v ${tool}`]).status !== 0) {
      throw new Error(`bench:curl-compare needs \`${tool}\` on the PATH (e.g. apt-get install curl); not found`);
    }
  }
}

/** `bash -c SHELL_LOOP` in its own process group (killed with its curls on failure or Ctrl-C). */
async function shellLoop(cleanup: Cleanup, sim: SimChild, logins: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'reopen-curl-'));
  cleanup.add(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const list = join(dir, 'logins.txt');
  writeFileSync(list, `${logins.join('\n')}\n`);
  const t0 = performance.now();
  const child = spawn('bash', ['-c', SHELL_LOOP], {
    env: { ...process.env, LIST: list, PARALLEL: String(PARALLEL), BASE: sim.baseUrl, TOKEN: 'sim-token' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  cleanup.add('stop shell loop', () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });
  const codes: Record<string, number> = {};
  const stderr: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => (codes[l] = (codes[l] ?? 0) + 1));
  createInterface({ input: child.stderr }).on('line', (l) => stderr.push(l));
  const exit = await new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const seconds = (performance.now() - t0) / 1000;
  // xargs exits 123 when some curl failed (a timeout, a reset connection): part of the result, not an error.
  if (exit !== 0 && exit !== 123) throw new Error(`shell loop exited ${exit}: ${stderr.slice(-5).join(' | ')}`);
  // `times`, last line: CPU of the children (xargs, every sh and curl), user and system, e.g. "1m2.5s 0m20.1s".
  const cpu = (stderr[stderr.length - 1] ?? '').split(' ').map((s) => {
    const m = /^(\d+)m([\d.]+)s$/.exec(s);
    return m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  });
  for (const l of stderr.slice(0, -2)) log(`[shell loop!] ${l}`);
  return { seconds, exit, codes, cpuSeconds: round(cpu[0] + cpu[1], 1) };
}

async function serviceWave(cleanup: Cleanup, sim: SimChild, url: string) {
  const { worker, dataSource: ds, commands } = await workerAndServices(cleanup, 'curlcmp', url, sim, CONCURRENCY);
  const wave = await aWave('bench: everyone, at the provider rate')
    .remaining()
    .protocols('imap', 'pop3')
    .rate(RATE)
    .concurrency(CONCURRENCY)
    .create({ commands }, 'ops:bench');
  const cpu = new CpuMeter(
    { worker: [worker.pid], simulator: [sim.pid], bench: [process.pid] },
    new URL(url).pathname.slice(1),
  );
  await cpu.start();
  const t0 = epochMs();
  await commands.start(wave.id, 'ops:bench');
  const w = await waitForWave(ds, wave.id, (r) => r.state !== 'running', TIMEOUT_MS, 200);
  const cpuCores = await cpu.stop();
  if (w.state !== 'completed') throw new Error(`wave ended ${w.state} (${w.status_reason})`);
  const seconds = (w.completed_at!.getTime() - t0) / 1000;
  const members = await ds.query<{ state: string; reason: string | null; n: string; prior: string }[]>(
    `SELECT state, reason, count(*) AS n,
            -- what a rollback needs: the state before (from the mailstore's answer) and the version it set
            count(*) FILTER (WHERE prior_imap IS NOT NULL AND prior_pop3 IS NOT NULL AND result_version IS NOT NULL)
              AS prior
       FROM wave_members WHERE wave_id = $1 GROUP BY 1, 2`,
    [wave.id],
  );
  const [ledger] = await ds.query<{ rows: string; accounts: string; before: string }[]>(
    `SELECT count(*) AS rows, count(DISTINCT account_id) AS accounts,
            count(*) FILTER (WHERE action = 'member.enabled' AND before ? 'imap' AND before ? 'pop3') AS before
       FROM audit_log WHERE wave_id = $1 AND action LIKE 'member.%'`,
    [wave.id],
  );
  const outcomes = Object.fromEntries(members.map((m) => [m.reason ? `${m.state}:${m.reason}` : m.state, Number(m.n)]));
  const enabled = members.find((m) => m.state === 'enabled');
  await worker.stop();
  return {
    waveId: wave.id,
    seconds,
    members: w.member_count ?? 0,
    outcomes,
    enabledInDb: Number(enabled?.n ?? 0),
    enabledWithPrior: Number(enabled?.prior ?? 0),
    ledgerRows: Number(ledger.rows),
    ledgerAccounts: Number(ledger.accounts),
    ledgerEnabledWithBefore: Number(ledger.before),
    cpuCores,
  };
}

runBench('curl-compare', async (cleanup) => {
  requireTools();
  const { logins, resetRequired } = population(ACCOUNTS);
  const url = await populatedDatabase(cleanup, 'curlcmp', ACCOUNTS);
  const sim = await startSimChild(cleanup, ACCOUNTS, { SIM_RATE_LIMITS: JSON.stringify(DEFAULT_RATE_LIMITS) });
  log(`provider limits (the contract's example, per token): ${JSON.stringify(DEFAULT_RATE_LIMITS)}`);

  log(`shell loop: ${ACCOUNTS} logins | xargs -P ${PARALLEL} -n 1 … curl -X PATCH …/accounts/$1/access`);
  await simReset(sim.adminUrl, ACCOUNTS);
  const curlSince = await simLastSeq(sim.adminUrl);
  const curlCpu = new CpuMeter({ simulator: [sim.pid], bench: [process.pid] });
  await curlCpu.start();
  const loop = await shellLoop(cleanup, sim, logins);
  const curlMachine = await curlCpu.stop();
  // CpuMeter cannot see the short-lived curls: their CPU (from `times`) is taken out of `others`.
  curlMachine.shellLoop = round(loop.cpuSeconds / loop.seconds, 2);
  curlMachine.others = round(Math.max(0, curlMachine.others - curlMachine.shellLoop), 2);
  const curl = tally(await simCalls(sim.adminUrl, curlSince));
  log(
    `shell loop: ${round(loop.seconds, 1)} s, curl codes ${JSON.stringify(loop.codes)}, ${curl.enabled.size} enabled`,
  );

  log(`service: wave at ${RATE}/s, 1 worker process, concurrency ${CONCURRENCY}; simulator reset to all closed`);
  await simReset(sim.adminUrl, ACCOUNTS);
  const serviceSince = await simLastSeq(sim.adminUrl);
  const svc = await serviceWave(cleanup, sim, url);
  const service = tally(await simCalls(sim.adminUrl, serviceSince));
  log(`service: ${round(svc.seconds, 1)} s, outcomes ${JSON.stringify(svc.outcomes)}, ${service.enabled.size} enabled`);

  const heldBack = svc.outcomes['skipped:password_reset_required'] ?? 0;
  const priorStateRecorded =
    svc.enabledInDb === service.enabled.size &&
    svc.enabledWithPrior === svc.enabledInDb &&
    svc.ledgerEnabledWithBefore === svc.enabledInDb;
  const ledgerOnePerAccount = svc.ledgerRows === svc.members && svc.ledgerAccounts === svc.members;
  const r = {
    accounts: ACCOUNTS,
    providerLimits: DEFAULT_RATE_LIMITS,
    leakedNotReset: resetRequired.size,
    curlSeconds: round(loop.seconds, 2),
    curlEnabled: curl.enabled.size,
    curlAccountsPerSecond: round(curl.enabled.size / loop.seconds, 1),
    curlHttpCalls: curl.calls,
    curlCallsPerSecond: round(curl.calls / loop.seconds, 1),
    curl429: curl.status429,
    curl5xx: curl.status5xx,
    curlStatusCodes: loop.codes,
    curlLeakedAttempted: resetRequired.size,
    curlEnabledWrongly: countIn(curl.enabled, resetRequired),
    curlLeftClosed: logins.filter((l) => !resetRequired.has(l) && !curl.enabled.has(l)).length,
    // By construction: the loop keeps curl's status codes and nothing else (PATCH answers carry no `previous`).
    curlPriorStateRecorded: false,
    curlLedgerRows: 0,
    curlCpuSeconds: loop.cpuSeconds,
    curlExit: loop.exit,
    curlCpuCores: curlMachine,
    parallel: PARALLEL,
    serviceSeconds: round(svc.seconds, 2),
    serviceEnabled: service.enabled.size,
    serviceAccountsPerSecond: round(service.enabled.size / svc.seconds, 1),
    serviceHttpCalls: service.calls,
    serviceCallsByEndpoint: service.byEndpoint,
    service429: service.status429,
    service5xx: service.status5xx,
    serviceHeldBack: heldBack,
    serviceEnabledWrongly: countIn(service.enabled, resetRequired),
    serviceOutcomes: svc.outcomes,
    serviceCpuCores: svc.cpuCores,
    priorStateRecorded,
    ledgerOnePerAccount,
    ledgerRows: svc.ledgerRows,
    waveRate: RATE,
    concurrency: CONCURRENCY,
  };
  const row = (label: string, a: unknown, b: unknown) =>
    log(`  ${label.padEnd(38)} ${String(a).padStart(12)}   ${String(b).padStart(12)}`);
  log(`\n  ${''.padEnd(38)} ${'shell loop'.padStart(12)}   ${'service'.padStart(12)}`);
  row('wall time, s', r.curlSeconds, r.serviceSeconds);
  row('accounts enabled', r.curlEnabled, r.serviceEnabled);
  row('accounts enabled per second', r.curlAccountsPerSecond, r.serviceAccountsPerSecond);
  row('HTTP calls', r.curlHttpCalls, r.serviceHttpCalls);
  row('429 received', r.curl429, r.service429);
  row('5xx received', r.curl5xx, r.service5xx);
  row(`leaked, not reset (${resetRequired.size}): enabled`, r.curlEnabledWrongly, r.serviceEnabledWrongly);
  row('held back: password_reset_required', 0, heldBack);
  row('left closed by mistake (should be open)', r.curlLeftClosed, svc.outcomes.failed ?? 0);
  row('prior state recorded', 'no', priorStateRecorded ? 'every one' : 'NO');
  row('ledger rows', 0, svc.ledgerRows);
  row('client CPU, cores (of 2)', curlMachine.shellLoop, svc.cpuCores.worker);
  row('others on the machine, cores', curlMachine.others, svc.cpuCores.others);
  log('');
  return r;
});
