import type { Gate } from '@app/domain';
import { ApiHarness, startApiHarness } from './api-harness';
import { imapLogin, pop3Login } from './mail-clients';
import { createPassdbDatabase, dovecotSqlEnv, type PassdbDatabase } from './passdb-database';
import { pollUntil } from './poll-until';
import { aWave } from './wave-builder';
import { freeLoopbackPort } from './ports';
import { startPrivateDovecot, type PrivateDovecot } from './private-dovecot';
import { PrivatePrometheus } from './private-prometheus';
import { accountsCsv, loginRange } from './population';

/**
 * The real attack, end to end (issue 19): the API and a worker drive a real Dovecot through dovecot-sql on the tests'
 * PostgreSQL; Dovecot posts its login events to the API (deploy/dovecot/events.conf as is); a real Prometheus scrapes
 * Dovecot's stats listener and the API's /metrics. Every account's password is known, so a test logs in as the
 * user (right password) or as the attacker (wrong one) over real IMAP and POP3.
 *
 * Accounts: `control` (opened first, by a wave of their own; their users log in all along, so the event stream is
 * alive and the control cohort has its baseline) and `general` (handed out to the tests' waves, `take(n)`).
 *
 * One home for test/e2e/login-gates-real.e2e-spec.ts and bench/attack.bench.ts (the same attack, timed).
 */
const CONTROL = 10;
export const realPassword = (login: string): string => `pw of ${login}`;
/** Dovecot's answer to a right password on a closed account (deploy/dovecot's passdb query). */
export const CLOSED_ANSWER = /access is not open yet/;

export interface RealLoginWorldOptions {
  /** Accounts handed out by take() (default 120). */
  general?: number;
  /** Prometheus's scrape and rule evaluation interval (default 1 s). */
  prometheusIntervalSeconds?: number;
}

export interface RealLoginWorld {
  api: ApiHarness;
  passdb: PassdbDatabase;
  dovecot: PrivateDovecot;
  prometheus: PrivatePrometheus;
  control: string[];
  /** The next `n` general accounts, each once. */
  take(n: number): string[];
  /** The exporter's URL into this API (with the signals key). */
  eventsUrl: string;
  /** Which of these logins Dovecot's passdb has open for IMAP, now. */
  openNow(logins: readonly string[]): Promise<Set<string>>;
  /** One PromQL value (NaN when empty). */
  promValue(query: string): Promise<number>;
  close(): Promise<void>;
}

export async function startRealLoginWorld(label: string, options: RealLoginWorldOptions = {}): Promise<RealLoginWorld> {
  const GENERAL = options.general ?? 120;
  const password = realPassword;
  const passdb = await createPassdbDatabase('postgres', 'columns');
  const control = loginRange(1, CONTROL);
  const general = loginRange(CONTROL + 1, CONTROL + GENERAL);
  await passdb.addAccounts([...control, ...general].map((login) => ({ login, password: password(login) })));
  let dovecot: PrivateDovecot | undefined;
  let api: ApiHarness | undefined;
  let prometheus: PrivatePrometheus | undefined;
  const close = async () => {
    await prometheus?.destroy();
    await api?.close();
    await dovecot?.stop();
    await passdb.drop();
  };
  try {
    // The exporter is pointed at the API once the API and its key exist (a reload).
    dovecot = await startPrivateDovecot(passdb, { events: { loginEventsUrl: null } });
    const promPort = await freeLoopbackPort();
    api = await startApiHarness(label, {
      worker: true,
      accounts: 1,
      engineEnv: {
        ...dovecotSqlEnv(passdb),
        DOVEADM_URL: dovecot.doveadmUrl.replace(/\/doveadm\/v1$/, ''),
        DOVEADM_API_KEY: dovecot.doveadmApiKey,
        PROMETHEUS_URL: `http://127.0.0.1:${promPort}`,
      },
    });
    const imported = await api.call('POST', '/accounts/import', {
      raw: accountsCsv([
        ...control.map((login) => ({ login, cohorts: ['control'], leaked: false, passwordChangedAt: null })),
        ...general.map((login) => ({ login, cohorts: ['general'], leaked: false, passwordChangedAt: null })),
      ]),
      headers: { 'content-type': 'text/csv' },
    });
    if (imported.status !== 200) throw new Error(`import: ${imported.status} ${imported.text}`);
    const eventsUrl = `${api.api.origin}/api/v1/login-events?key=${api.secrets.signals}`;
    await dovecot.exportLoginEventsTo(eventsUrl);
    const apiAddress = new URL(api.api.origin).host;
    prometheus = await PrivatePrometheus.create(
      [
        { job: 'dovecot', address: `127.0.0.1:${dovecot.statsPort}` },
        { job: 'reopen-api', address: apiAddress, metricsPath: '/api/v1/metrics', bearerToken: api.secrets.viewer },
      ],
      options.prometheusIntervalSeconds ?? 1,
      { port: promPort },
    );
    await prometheus.start();
    await prometheus.untilScraped('dovecot');
    await prometheus.untilScraped('reopen-api');
    const prom = prometheus;
    let next = 0;
    return {
      api,
      passdb,
      dovecot,
      prometheus,
      control,
      eventsUrl,
      take: (n) => {
        if (next + n > general.length) throw new Error(`only ${general.length} general accounts: raise GENERAL`);
        next += n;
        return general.slice(next - n, next);
      },
      openNow: async (logins) =>
        new Set(
          (
            await passdb.query('SELECT email FROM mail_users WHERE imap_enabled AND email = ANY(?::text[])', [
              [...logins],
            ])
          ).map((r) => String(r.email)),
        ),
      promValue: async (query) => {
        const res = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(query)}`);
        const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
        const first = body.data?.result?.[0];
        return first ? Number(first.value[1]) : NaN;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/** A login over IMAP or POP3 (alternately by `n`), from a loopback address of the caller's choosing. */
export function realLogin(world: RealLoginWorld, n: number, user: string, pw: string, from?: string) {
  return n % 2 === 0
    ? imapLogin(world.dovecot.imapPort, user, pw, from)
    : pop3Login(world.dovecot.pop3Port, user, pw, from);
}

/** A loop of logins until stop(): resolves stop() once the loop has ended. */
export function loginLoop(step: (n: number) => Promise<unknown>, pauseMs: number): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    for (let n = 0; running; n++) {
      await step(n).catch(() => undefined);
      if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * The control cohort's users, logging in with their right password all along (alternately IMAP and POP3): the
 * stream is alive while a wave runs, and the control cohort's baseline is a real one.
 */
function controlUsers(world: RealLoginWorld, pauseMs = 200): { stop(): Promise<void> } {
  return loginLoop((n) => {
    const user = world.control[n % world.control.length];
    return realLogin(world, n, user, realPassword(user));
  }, pauseMs);
}

/**
 * Watches which of `logins` Dovecot's passdb has open (every 50 ms) and when that last changed: the last mailstore
 * change, read behind the service's back.
 */
export function watchOpen(world: RealLoginWorld, logins: readonly string[]) {
  let last = '';
  let lastChangeAt = performance.now();
  let open = new Set<string>();
  const watcher = loginLoop(async () => {
    open = await world.openNow(logins);
    const key = [...open].sort().join(',');
    if (key !== last) {
      last = key;
      lastChangeAt = performance.now();
    }
  }, 50);
  return {
    get open() {
      return open;
    },
    get lastChangeAt() {
      return lastChangeAt;
    },
    stop: () => watcher.stop(),
  };
}

export async function untilOpen(world: RealLoginWorld, logins: readonly string[], count: number): Promise<string[]> {
  return pollUntil(
    async () => {
      const open = await world.openNow(logins);
      return open.size >= count ? logins.filter((l) => open.has(l)) : false;
    },
    { timeoutMs: 60_000, description: `${count} accounts open` },
  );
}

/**
 * The attack (issue 19): once `wave` has opened `openedBefore` of `logins`, `attackers` concurrent loops replay wrong
 * passwords against the accounts it opened (IMAP and POP3, a new connection per try) until the wave reaches one of
 * `until` (or completes, or pauses); returns the halt time (first wrong password → last passdb change) and what the
 * watcher saw open at the end.
 */
async function attackUntilStopped(
  world: RealLoginWorld,
  attack: { waveId: string; logins: readonly string[]; openedBefore: number; until: string[]; attackers: number },
): Promise<{ haltMs: number; open: Set<string> }> {
  const { waveId, logins, attackers: count } = attack;
  const opened = await untilOpen(world, logins, attack.openedBefore);
  const watch = watchOpen(world, logins);
  const t0 = performance.now();
  const attackers = Array.from({ length: count }, (_, a) =>
    loginLoop((n) => {
      const victim = opened[(n * count + a) % opened.length];
      return realLogin(world, n + a, victim, `${realPassword(victim)}-leaked-2025`);
    }, 0),
  );
  try {
    // Any rest state ends the wait (a wave that completed or paused fails the caller's check on its state, at once).
    await world.api.h.untilWaveState(waveId, [...new Set([...attack.until, 'completed', 'paused'])], {
      timeoutMs: 60_000,
    });
  } finally {
    await Promise.all(attackers.map((a) => a.stop()));
  }
  await world.api.h.waitAtRest(waveId);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // the watcher's last look
  await watch.stop();
  return { haltMs: Math.round(watch.lastChangeAt - t0), open: watch.open };
}

/**
 * The control cohort opened (by a wave of its own) and its users logging in all along (controlUsers), once the stream
 * has delivered a first event: a wave with a silence limit pauses at once while the stream has never delivered
 * (Dovecot posts its first events a moment after the first logins; on a loaded machine, seconds).
 */
export async function startControlUsers(world: RealLoginWorld): Promise<{ stop(): Promise<void> }> {
  const h = world.api.h;
  const control = await aWave('control').cohorts('control').rate(100).started(h);
  await h.untilWaveState(control.id, 'completed');
  const users = controlUsers(world);
  try {
    await pollUntil(
      async () =>
        Number(
          (await h.db.dataSource.query<{ received: string }[]>(`SELECT received FROM login_stream`))[0]?.received ?? 0,
        ) > 0,
      { timeoutMs: 30_000, intervalMs: 250, description: 'a first login event received' },
    );
  } catch (err) {
    await users.stop();
    throw err;
  }
  return users;
}

/** A slow wave over `logins`: one account a second, one per batch (the attack meets it while it runs). */
export const slowWave = (name: string, logins: readonly string[]) => aWave(name).logins(logins).rate(1).batchSize(1);

/**
 * The attack against one gate: a slow wave with `gate` over `accounts` fresh general accounts, attacked once 3 of
 * them are open until it halts (attackUntilStopped); its id, its logins and what the attack saw.
 */
export async function attackGatedWave(
  world: RealLoginWorld,
  name: string,
  gate: Gate,
  attack: { accounts: number; attackers: number },
): Promise<{ waveId: string; logins: string[]; haltMs: number; open: Set<string> }> {
  const logins = world.take(attack.accounts);
  const wave = await slowWave(name, logins).gates(gate).started(world.api.h);
  const seen = await attackUntilStopped(world, {
    waveId: wave.id,
    logins,
    openedBefore: 3,
    until: ['halted'],
    attackers: attack.attackers,
  });
  return { waveId: wave.id, logins, ...seen };
}

/** The login-event gate both the e2e spec and bench:attack run: a failure ratio well above the control cohort's. */
export const STUFFING_GATE: Gate = {
  name: 'stuffing',
  metric: 'login_failure_ratio',
  windowSeconds: 30,
  minSamples: 5,
  threshold: 0.3,
  relativeTo: { cohort: 'control', factor: 3 },
  silenceSeconds: 10,
  action: 'halt',
};

/**
 * The same question asked of Prometheus (Dovecot's failed-login counter, as a rate over `query`'s range), evaluated
 * every `intervalSeconds`, failing on `failureCondition`. A prometheus gate has no window, samples or threshold (Gate
 * types them for every metric; validation refuses them): hence the cast.
 */
export function promFailuresGate(query: string, intervalSeconds: number, failureCondition: string): Gate {
  return {
    name: 'prom-failures',
    metric: 'prometheus',
    query,
    intervalSeconds,
    failureCondition,
    failureLimit: 0,
    inconclusiveLimit: 3,
    consecutiveErrorLimit: 2,
    action: 'halt',
  } as Gate;
}
