import type { WaveProgress } from '@app/core';
import {
  createPassdbDatabase,
  dovecotSqlEnv,
  holdImapSession,
  imapLogin,
  pollUntil,
  pop3Login,
  populationAccount,
  populationCsv,
  PrivateSlapd,
  startPrivateDovecot,
  WorkerProcess,
  type PopulationOptions,
  type PrivateDovecot,
} from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';

/**
 * Issue 18's proof with real logins: the service, driven only through its HTTP API (the built API and worker as
 * processes), opens and closes accounts on a real Dovecot through each native driver, and every assertion is a
 * login the Dovecot answers (IMAP LOGIN, POP3 USER/PASS with the right password), never the service's own view.
 */

// Small, with every kind of account in it: two cohorts, leaked accounts reset since the incident and never reset.
const POPULATION: PopulationOptions = { count: 40, seed: 18, healthShare: 0.4, leakedShare: 0.35, resetShare: 0.5 };
const PEOPLE = Array.from({ length: POPULATION.count }, (_, i) => populationAccount(i + 1, POPULATION));
const LOGINS = PEOPLE.map((p) => p.login);
const passwordOf = (login: string) => `pw-${login}`;
const WAVE_COHORT = 'health';
const inCohort = PEOPLE.filter((p) => p.cohorts.includes(WAVE_COHORT));
/** Held back by every wave: leaked and never reset since the incident. */
const held = inCohort.filter((p) => p.leaked && p.passwordChangedAt === null).map((p) => p.login);
const waveOne = inCohort.filter((p) => !held.includes(p.login)).map((p) => p.login);
/** Support opens one account of the other cohort, eligible, that no wave touched. */
const supportLogin = PEOPLE.find((p) => !p.cohorts.includes(WAVE_COHORT) && !p.leaked)!.login;

/** A passdb (or directory) Dovecot reads, seeded with every account closed, and the driver's settings for it. */
interface Backend {
  dovecot: PrivateDovecot;
  engineEnv: Record<string, string>;
  close(): Promise<void>;
}

const accounts = LOGINS.map((login) => ({ login, password: passwordOf(login) }));

function doveadmEnv(dovecot: PrivateDovecot): Record<string, string> {
  return { DOVEADM_URL: dovecot.doveadmUrl, DOVEADM_API_KEY: dovecot.doveadmApiKey };
}

function dovecotSqlBackend(dialect: 'postgres' | 'mysql'): () => Promise<Backend> {
  return async () => {
    const passdb = await createPassdbDatabase(dialect, 'columns');
    await passdb.addAccounts(accounts);
    const dovecot = await startPrivateDovecot(passdb).catch(async (err: unknown) => {
      await passdb.drop();
      throw err;
    });
    return {
      dovecot,
      // deploy/dovecot/README.md's settings, pointed at this passdb.
      engineEnv: {
        ...dovecotSqlEnv(passdb),
        ...doveadmEnv(dovecot),
      },
      close: async () => {
        try {
          await dovecot.stop();
        } finally {
          await passdb.drop();
        }
      },
    };
  };
}

async function ldapBackend(): Promise<Backend> {
  const off = { reopenImapEnabled: 'FALSE', reopenPop3Enabled: 'FALSE' };
  const slapd = await PrivateSlapd.start(accounts.map((a) => ({ ...a, attributes: off })));
  const dovecot = await startPrivateDovecot(slapd).catch(async (err: unknown) => {
    await slapd.stop();
    throw err;
  });
  return {
    dovecot,
    engineEnv: { MAILSTORE_DRIVER: 'ldap', ...slapd.driverEnv(), ...doveadmEnv(dovecot) },
    close: async () => {
      try {
        await dovecot.stop();
      } finally {
        await slapd.stop();
      }
    },
  };
}

const DRIVERS: { name: string; start: () => Promise<Backend> }[] = [
  { name: 'dovecot-sql on PostgreSQL', start: dovecotSqlBackend('postgres') },
  { name: 'dovecot-sql on MariaDB', start: dovecotSqlBackend('mysql') },
  { name: 'ldap on slapd', start: ldapBackend },
];

describe.each(DRIVERS)('real IMAP/POP3 logins through the HTTP API: $name', ({ name, start }) => {
  let backend: Backend;
  let api: ApiHarness;
  let worker: WorkerProcess;
  let waveId: string;

  beforeAll(async () => {
    backend = await start();
    try {
      api = await startApiHarness(`logins-${name.split(' ')[0]}`, { accounts: 0, engineEnv: backend.engineEnv });
      // The built worker as a process: the driver reads its settings from this environment, as in production.
      worker = await WorkerProcess.start(api.h.env);
    } catch (err) {
      await api?.close();
      await backend.close();
      throw err;
    }
  });
  afterAll(async () => {
    await worker?.kill();
    await api?.close();
    await backend?.close();
  });

  const sorted = (xs: readonly string[]) => [...xs].sort();
  /** Which accounts Dovecot lets in over IMAP and over POP3, each with its right password. */
  const openAccounts = async () => {
    const open = { imap: [] as string[], pop3: [] as string[] };
    const lines: string[] = [];
    for (const login of LOGINS) {
      const [imap, pop3] = await Promise.all([
        imapLogin(backend.dovecot.imapPort, login, passwordOf(login)),
        pop3Login(backend.dovecot.pop3Port, login, passwordOf(login)),
      ]);
      if (imap.ok) open.imap.push(login);
      if (pop3.ok) open.pop3.push(login);
      lines.push(imap.line, pop3.line);
    }
    return { imap: sorted(open.imap), pop3: sorted(open.pop3), lines };
  };
  const untilWave = (id: string, state: string) =>
    pollUntil(
      async () => {
        const p = (await api.call<WaveProgress>('GET', `/waves/${id}/progress`, { key: 'viewer' })).body;
        return p.state === state ? p : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: `wave ${id} ${state}` },
    );

  it("the API's dependency report asks the driver's own store (and doveadm), not an HTTP mailstore", async () => {
    // The harness's simulator still listens at MAILSTORE_URL: made unreachable, it must not matter.
    api.h.sim.setFaults({ unreachable: true });
    try {
      const report = await api.call<{ dependencies: { mailstore: { status: string } } }>(
        'GET',
        '/health/dependencies',
        {
          key: null,
        },
      );
      expect(report.body.dependencies.mailstore).toEqual({ status: 'up', neededForReady: false });
      expect((await api.call('GET', '/metrics', { key: 'viewer' })).text).toMatch(
        /^reopen_api_dependency_up\{dependency="mailstore"\} 1$/m,
      );
    } finally {
      api.h.sim.setFaults({});
    }
  });

  it('imports the accounts through the API; Dovecot refuses every one of them over IMAP and POP3', async () => {
    // The population has what the story needs: an eligible part of the cohort, held ones, another cohort.
    expect([waveOne.length > 1, held.length > 0, inCohort.length < LOGINS.length]).toEqual([true, true, true]);
    const csv = [...populationCsv(POPULATION)].join('');
    const imported = await api.call('POST', '/accounts/import', { raw: csv, headers: { 'content-type': 'text/csv' } });
    expect(imported.body).toMatchObject({ status: 'imported', inserted: LOGINS.length, rejected: 0 });

    const open = await openAccounts();
    expect({ imap: open.imap, pop3: open.pop3 }).toEqual({ imap: [], pop3: [] });
    // Refused by the passdb's nologin (the examples' reason: "imap access is not open yet…"), not for a password.
    expect(open.lines.filter((l) => !/access is not (open|reopened)/.test(l))).toEqual([]);
  });

  it("wave 1 over one cohort: exactly its eligible accounts log in; held ones and the other cohort don't", async () => {
    const created = await api.call('POST', '/waves', {
      body: {
        name: `wave 1 (${WAVE_COHORT})`,
        selector: { type: 'cohorts', cohorts: [WAVE_COHORT] },
        protocols: ['imap', 'pop3'],
        ratePerSecond: 200,
        batchSize: 5,
      },
    });
    expect(created.status).toBe(201);
    waveId = created.body.id;
    expect((await api.call('POST', `/waves/${waveId}/start`)).status).toBe(200);
    const done = await untilWave(waveId, 'completed');
    expect(done.counts).toMatchObject({ enabled: waveOne.length, failed: 0 });

    const open = await openAccounts();
    expect({ imap: open.imap, pop3: open.pop3 }).toEqual({ imap: sorted(waveOne), pop3: sorted(waveOne) });
  });

  it('a rollback ends a live IMAP session of wave 1 within 2 s and closes every wave-1 account again', async () => {
    const login = waveOne[0];
    const session = await holdImapSession(backend.dovecot.imapPort, login, passwordOf(login));
    try {
      const rollback = await api.call('POST', `/waves/${waveId}/rollback`);
      const accepted = performance.now();
      expect(rollback.body).toMatchObject({ from: 'completed', state: 'rolling_back' });
      const closedAt = await Promise.race([session.closed, sleep(5_000).then(() => Infinity)]);
      // Dovecot's own goodbye on the held connection, within 2 s of the rollback being accepted (the command's own
      // answer time, up to a second on a busy machine, is the API's, not the rollback's).
      expect(session.lines.filter((l) => l.startsWith('* BYE'))).toHaveLength(1);
      expect(closedAt - accepted).toBeLessThanOrEqual(2_000);
    } finally {
      session.close();
    }
    await untilWave(waveId, 'rolled_back');

    const open = await openAccounts();
    expect({ imap: open.imap, pop3: open.pop3 }).toEqual({ imap: [], pop3: [] });
  });

  it('a support enable opens exactly one account', async () => {
    const requested = await api.call('POST', `/accounts/${encodeURIComponent(supportLogin)}/enable`, {
      key: 'support',
      body: { reason: 'practice software must fetch over POP3 and IMAP', ticket: 'SUP-18' },
    });
    expect(requested.status).toBe(202);
    await pollUntil(
      async () =>
        (await api.call<{ state: string }>('GET', `/operations/${requested.body.id}`, { key: 'support' })).body
          .state === 'succeeded',
      { timeoutMs: 30_000, intervalMs: 100, description: 'support enable succeeded' },
    );

    const open = await openAccounts();
    expect({ imap: open.imap, pop3: open.pop3 }).toEqual({ imap: [supportLogin], pop3: [supportLogin] });
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
