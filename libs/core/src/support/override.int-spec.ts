import { Readable } from 'node:stream';
import {
  accountsCsv,
  aWave,
  createEngineHarness,
  DEFAULT_INCIDENT_AT,
  EngineHarness,
  untilOperationDone,
} from '@app/testing';
import { AccountImportService } from '../accounts/account-import.service';
import { ConflictError, NotFoundError, ValidationError } from '../errors';
import { OperationService } from './operation.service';
import { OverrideService } from './override.service';

const TTL_MS = 5000;
const note = { reason: 'practice cannot bill', ticket: 'SUP-1' };

/**
 * Overrides of the leaked-password hold (issue 15, finding 1), against real PostgreSQL, Redis, a worker and the
 * simulator: an enable opens an account waves hold back only when it says `override: true`; the override ends when
 * support disables or holds the account, when it expires, or when ops revoke it; after any of these, a wave that
 * names the account skips it (password_reset_required) and the mailstore keeps it closed.
 */
describe('support overrides of password_reset_required (real services)', () => {
  let h: EngineHarness;
  let support: OperationService;
  let overrides: OverrideService;
  let next = 0;
  /** A fresh account, leaked by an import and never reset since the incident. */
  const leakedAccount = async (): Promise<string> => {
    const login = `user${++next}@example.test`;
    const csv = accountsCsv([{ login, cohorts: ['general'], leaked: true, passwordChangedAt: null }]);
    const report = await new AccountImportService(h.db.dataSource, new Date(DEFAULT_INCIDENT_AT)).importCsv(
      Readable.from([csv]),
      { actor: 'test' },
    );
    expect(report.status).toBe('imported');
    return login;
  };
  const done = (id: string) => untilOperationDone(support, id, { timeoutMs: 15_000 });
  const open = (login: string) => h.sim.account(login)?.protocols;
  const account = async (login: string) =>
    (
      await h.db.dataSource.query<
        {
          override_reason: string | null;
          override_expires_at: Date | null;
          held: boolean;
          version: number;
        }[]
      >(`SELECT override_reason, override_expires_at, held, version FROM accounts WHERE login = $1`, [login])
    )[0];
  /** A wave whose explicit list names `logins`, run to completion: each member's state and reason. */
  const waveOver = async (logins: string[]) => {
    const wave = await aWave(`names ${logins[0]}`)
      .logins(logins)
      .protocols('imap', 'pop3')
      .rate(200)
      .batchSize(10)
      .started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    const rows = await h.db.dataSource.query<{ login: string; state: string; reason: string | null }[]>(
      `SELECT a.login, m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1`,
      [wave.id],
    );
    return Object.fromEntries(rows.map((r) => [r.login, `${r.state}/${r.reason ?? '-'}`]));
  };

  beforeAll(async () => {
    h = await createEngineHarness('override', { accounts: 300 });
    await h.importPopulation({ count: 300, seed: 15, leakedShare: 0 });
    await h.startWorker();
    support = h.support({ overrideTtlMs: TTL_MS });
    overrides = new OverrideService(h.db.dataSource);
  }, 60_000);
  afterAll(async () => {
    await h?.close();
  });

  it('refuses to open a leaked, never-reset account without override: true, and writes nothing', async () => {
    const login = await leakedAccount();
    const before = await account(login);
    const audits = await h.db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM audit_log`);
    for (const override of [undefined, false]) {
      const err = await support
        .request(login, 'enable', { ...note, override }, 'support:test')
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err).toMatchObject({
        code: 'override_required',
        extra: { errors: [{ field: 'override', message: expect.stringContaining('password_reset_required') }] },
      });
    }
    expect(await account(login)).toEqual(before);
    expect(await h.db.dataSource.query(`SELECT count(*) AS n FROM audit_log`)).toEqual(audits);
    expect(await h.db.dataSource.query(`SELECT id FROM operations WHERE login = $1`, [login])).toEqual([]);
  });

  it('refuses override on a disable (it would mean nothing)', async () => {
    const login = await leakedAccount();
    await expect(support.request(login, 'disable', { ...note, override: true }, 'support:test')).rejects.toBeInstanceOf(
      ValidationError,
    );
  });

  it('with override: true, opens it, says so in the operation, and waves include it until the override ends', async () => {
    const login = await leakedAccount();
    const t0 = Date.now();
    const op = await support.request(login, 'enable', { ...note, override: true }, 'support:test');
    expect(op.overrides).toEqual(['password_reset_required']);
    expect(op.overrideExpiresAt!.getTime()).toBeGreaterThanOrEqual(t0 + TTL_MS - 1000);
    expect(op.overrideExpiresAt!.getTime()).toBeLessThanOrEqual(Date.now() + TTL_MS + 1000);
    const [auditRow] = await h.db.dataSource.query<{ detail: { overrides: string[]; overrideExpiresAt: string } }[]>(
      `SELECT detail FROM audit_log WHERE operation_id = $1 AND action = 'support.enable_requested'`,
      [op.id],
    );
    expect(auditRow.detail.overrides).toEqual(['password_reset_required']);
    expect(new Date(auditRow.detail.overrideExpiresAt).getTime()).toBe(op.overrideExpiresAt!.getTime());
    expect((await done(op.id)).outcome).toBe('applied');
    expect(open(login)).toEqual({ imap: true, pop3: true });
    expect((await overrides.list({})).items.map((o) => o.login)).toContain(login);
  });

  it('a support disable ends the override: a later wave naming the account skips it and it stays closed', async () => {
    // The defect: enable (override), disable, then a wave whose explicit list names the account opened it again.
    const login = await leakedAccount();
    await done((await support.request(login, 'enable', { ...note, override: true }, 'support:test')).id);
    const disable = await support.request(login, 'disable', note, 'support:test');
    await done(disable.id);
    expect(open(login)).toEqual({ imap: false, pop3: false });
    expect((await account(login)).override_expires_at).toBeNull();
    const [requested] = await h.db.dataSource.query<{ detail: { overrideEnded?: boolean } }[]>(
      `SELECT detail FROM audit_log WHERE operation_id = $1`,
      [disable.id],
    );
    expect(requested.detail.overrideEnded).toBe(true);
    expect(await waveOver([login])).toEqual({ [login]: 'skipped/password_reset_required' });
    expect(open(login)).toEqual({ imap: false, pop3: false });
  }, 60_000);

  it('a support hold ends the override, and it does not come back with the unhold', async () => {
    const login = await leakedAccount();
    await done((await support.request(login, 'enable', { ...note, override: true }, 'support:test')).id);
    await support.setHold(login, true, note, 'support:test');
    expect((await account(login)).override_expires_at).toBeNull();
    await support.setHold(login, false, note, 'support:test');
    await done((await support.request(login, 'disable', note, 'support:test')).id);
    expect(await waveOver([login])).toEqual({ [login]: 'skipped/password_reset_required' });
    expect(open(login)).toEqual({ imap: false, pop3: false });
  }, 60_000);

  it('a support hold needs override: true to be opened by support, and the hold stays', async () => {
    const login = `user${++next}@example.test`;
    await support.setHold(login, true, note, 'support:test');
    await expect(support.request(login, 'enable', note, 'support:test')).rejects.toMatchObject({
      code: 'override_required',
      extra: { errors: [{ field: 'override' }] },
    });
    const op = await support.request(login, 'enable', { ...note, override: true }, 'support:test');
    expect(op.overrides).toEqual(['held']);
    expect(op.overrideExpiresAt).toBeNull();
    await done(op.id);
    expect(open(login)).toEqual({ imap: true, pop3: true });
    expect((await account(login)).held).toBe(true);
  });

  it('an override expires by itself: listed until then, and a wave after it skips the account', async () => {
    const login = await leakedAccount();
    const op = await support.request(login, 'enable', { ...note, override: true }, 'support:test');
    await done(op.id);
    await done((await support.request(login, 'disable', { ...note, protocols: ['pop3'] }, 'support:test')).id);
    // A disable of one protocol still ends the override (support re-blocked it); give it again, then let it expire.
    const again = await support.request(login, 'enable', { ...note, override: true, protocols: ['imap'] }, 'x');
    await done(again.id);
    expect((await overrides.list({})).items.map((o) => o.login)).toContain(login);
    const wait = again.overrideExpiresAt!.getTime() - Date.now() + 50;
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    expect((await overrides.list({})).items.map((o) => o.login)).not.toContain(login);
    expect(await waveOver([login])).toEqual({ [login]: 'skipped/password_reset_required' });
    expect(open(login)).toEqual({ imap: true, pop3: false });
  }, 60_000);

  it('ops list and revoke overrides: revoked, the account is held back again; revoking twice is a 404', async () => {
    const long = h.support({ overrideTtlMs: 3_600_000 });
    const [a, b] = [await leakedAccount(), await leakedAccount()];
    await done((await long.request(a, 'enable', { ...note, override: true }, 'support:alice')).id);
    await done((await long.request(b, 'enable', { ...note, override: true }, 'support:alice')).id);
    const first = await overrides.list({ limit: 1 });
    expect(first.items).toHaveLength(1);
    const second = await overrides.list({ limit: 500, cursor: first.nextCursor! });
    const listed = [...first.items, ...second.items].map((o) => o.login);
    expect(listed).toEqual(expect.arrayContaining([a, b]));
    expect(new Set(listed).size).toBe(listed.length);
    expect([...first.items, ...second.items].find((o) => o.login === a)).toMatchObject({
      reason: note.reason,
      ticket: note.ticket,
      by: 'support:alice',
    });

    const revoked = await overrides.revoke(a.toUpperCase(), { reason: 'no reset yet', ticket: 'SEC-5' }, 'ops:bob');
    expect(revoked.login).toBe(a);
    expect((await overrides.list({ limit: 500 })).items.map((o) => o.login)).not.toContain(a);
    const [entry] = await h.db.dataSource.query<{ actor: string; reason: string; before: { by: string } }[]>(
      `SELECT actor, reason, before FROM audit_log WHERE login = $1 AND action = 'override.revoked'`,
      [a],
    );
    expect(entry).toMatchObject({ actor: 'ops:bob', reason: 'no reset yet', before: { by: 'support:alice' } });
    await expect(overrides.revoke(a, { reason: 'again', ticket: 'SEC-5' }, 'ops:bob')).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(overrides.revoke(a, { reason: ' ', ticket: 'SEC-5' }, 'ops:bob')).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(overrides.list({ cursor: 'not a cursor' })).rejects.toMatchObject({
      extra: { errors: [{ field: 'cursor' }] },
    });

    // Support closes a; c is opened for IMAP only under a live override: a wave naming both opens c's POP3, not a.
    await done((await long.request(a, 'disable', note, 'support:alice')).id);
    const c = await leakedAccount();
    await done((await long.request(c, 'enable', { ...note, override: true, protocols: ['imap'] }, 'x')).id);
    expect(await waveOver([a, c])).toEqual({ [a]: 'skipped/password_reset_required', [c]: 'enabled/-' });
    expect(open(a)).toEqual({ imap: false, pop3: false });
    expect(open(c)).toEqual({ imap: true, pop3: true });
  }, 90_000);
});
