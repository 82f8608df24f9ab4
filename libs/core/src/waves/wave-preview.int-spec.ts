import {
  decideEligibility,
  EligibilityAccount,
  hasActiveOverride,
  Protocol,
  SKIP_REASONS,
  SkipReason,
} from '@app/domain';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';
import { CreateWaveInput } from './wave.types';
import { WavePreview, WaveQueryService } from './wave-query.service';

const ACCOUNTS = 6000;

interface AccountRow {
  id: string;
  login: string;
  cohorts: string[];
  leaked: boolean;
  password_changed_at: Date | null;
  held: boolean;
  override_reason: string | null;
  override_ticket: string | null;
  override_expires_at: Date | null;
  imap_enabled: boolean;
  pop3_enabled: boolean;
}

/**
 * The preview counts eligibility in one SQL statement (a million rows); the engine decides it per batch with
 * decideEligibility. Over the demo's synthetic population, varied so that every rule has accounts on both of its
 * sides (holds, overrides live, expired, blank or incomplete, protocols already on), the preview's counts per
 * reason must be what decideEligibility says account by account.
 */
describe('wave preview = decideEligibility, account by account, over the synthetic population', () => {
  let h: EngineHarness;
  let query: WaveQueryService;
  let incidentAt: Date;

  beforeAll(async () => {
    h = await createEngineHarness('preview', { accounts: 10 });
    incidentAt = new Date(h.config.INCIDENT_AT);
    query = new WaveQueryService(h.db.dataSource, incidentAt);
    // The demo's population (apps/cli/src/demo/population.ts is this generator with seed 1 and the incident).
    await h.importPopulation({ count: ACCOUNTS, seed: 1, incidentAt: incidentAt.toISOString() });
    // What the import cannot say: support holds and overrides, and protocols a wave or support already opened.
    await h.db.dataSource.query(
      `UPDATE accounts SET
         held = id % 37 = 0,
         imap_enabled = id % 5 = 0,
         pop3_enabled = id % 7 = 0 OR id % 5 = 0 AND id % 2 = 0,
         override_reason = CASE WHEN id % 11 = 0 OR id % 13 = 0 OR id % 19 = 0 THEN 'practice asked'
                                WHEN id % 17 = 0 THEN '   ' END,
         override_ticket = CASE WHEN id % 11 = 0 OR id % 13 = 0 OR id % 17 = 0 OR id % 19 = 0 THEN 'SUP-1' END,
         override_expires_at = CASE WHEN id % 11 = 0 OR id % 17 = 0 THEN now() + interval '2 hours'
                                    WHEN id % 13 = 0 THEN now() - interval '2 hours' END`,
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  const accounts = () =>
    h.db.dataSource.query<AccountRow[]>(
      `SELECT id, login, cohorts, leaked, password_changed_at, held, override_reason, override_ticket,
              override_expires_at, imap_enabled, pop3_enabled
         FROM accounts`,
    );

  function decided(rows: readonly AccountRow[], protocols: Protocol[]) {
    const now = new Date();
    const skips = Object.fromEntries(SKIP_REASONS.map((r) => [r, 0])) as Record<SkipReason, number>;
    let eligible = 0;
    for (const row of rows) {
      const account: EligibilityAccount = {
        leaked: row.leaked,
        passwordChangedAt: row.password_changed_at,
        held: row.held,
        overrideActive: hasActiveOverride(
          {
            overrideReason: row.override_reason,
            overrideTicket: row.override_ticket,
            overrideExpiresAt: row.override_expires_at,
          },
          now,
        ),
        imap: row.imap_enabled,
        pop3: row.pop3_enabled,
      };
      const decision = decideEligibility(account, protocols, incidentAt);
      if (decision.eligible) eligible++;
      else skips[decision.reason]++;
    }
    return { members: rows.length, eligible, skips };
  }

  const counts = (p: WavePreview) => ({ members: p.members, eligible: p.eligible, skips: p.skips });

  const create = (selector: CreateWaveInput['selector'], protocols: Protocol[]) =>
    aWave('preview')
      .selector(selector)
      .protocols(...protocols)
      .rate(100)
      .create(h);

  const PROTOCOL_SETS: Protocol[][] = [['imap'], ['pop3'], ['imap', 'pop3']];

  /** The preview before the start, what the start froze, and the preview of the frozen members. */
  async function expectPinned(selector: CreateWaveInput['selector'], protocols: Protocol[], selected: AccountRow[]) {
    expect(selected.length).toBeGreaterThan(0);
    const wave = await create(selector, protocols);
    const before = await query.preview(wave.id);
    expect(before.scope).toBe('selector');
    expect(counts(before)).toEqual(decided(selected, protocols));
    // No worker: the membership is frozen at start and stays pending.
    await h.commands.start(wave.id, 'ops:test');
    const members = await h.db.dataSource.query<{ account_id: string }[]>(
      `SELECT account_id FROM wave_members WHERE wave_id = $1 AND state = 'pending' ORDER BY seq`,
      [wave.id],
    );
    expect(members.map((m) => m.account_id)).toEqual(selected.map((a) => a.id).sort((x, y) => Number(x) - Number(y)));
    const after = await query.preview(wave.id);
    expect(after.scope).toBe('pending_members');
    expect(counts(after)).toEqual(counts(before));
    await h.commands.cancel(wave.id, 'ops:test');
  }

  it('the population exercises every rule on both of its sides', async () => {
    const all = decided(await accounts(), ['imap', 'pop3']);
    expect(all.eligible).toBeGreaterThan(0);
    for (const reason of ['held', 'password_reset_required', 'already_enabled'] as const) {
      expect(all.skips[reason]).toBeGreaterThan(0);
    }
    // Leaked, never reset and not held: the overrides that count (live) and those that do not (expired, blank,
    // without an expiry) each have accounts.
    const [mix] = await h.db.dataSource.query<{ live: number; expired: number; blank: number; no_expiry: number }[]>(
      `SELECT count(*) FILTER (WHERE id % 11 = 0)::int AS live, count(*) FILTER (WHERE id % 13 = 0)::int AS expired,
              count(*) FILTER (WHERE id % 17 = 0)::int AS blank, count(*) FILTER (WHERE id % 19 = 0)::int AS no_expiry
         FROM accounts WHERE leaked AND (password_changed_at IS NULL OR password_changed_at <= $1) AND NOT held`,
      [incidentAt],
    );
    expect(Object.values(mix).every((n) => n > 0)).toBe(true);
  });

  const PROTOCOL_CASES = PROTOCOL_SETS.map((p) => [p.join('+'), p] as const);

  it.each(PROTOCOL_CASES)('selector: every cohort, %s', async (_name, protocols) => {
    await expectPinned({ type: 'cohorts', cohorts: ['health', 'general'] }, [...protocols], await accounts());
  });

  it.each(PROTOCOL_CASES)('selector: the health cohort, %s', async (_name, protocols) => {
    const health = (await accounts()).filter((a) => a.cohorts.includes('health'));
    await expectPinned({ type: 'cohorts', cohorts: ['health'] }, [...protocols], health);
  });

  it.each(PROTOCOL_CASES)('selector: remaining (a protocol still off), %s', async (_name, protocols) => {
    const remaining = (await accounts()).filter((a) =>
      protocols.some((p) => !(p === 'imap' ? a.imap_enabled : a.pop3_enabled)),
    );
    await expectPinned({ type: 'remaining' }, [...protocols], remaining);
  });

  it('selector: logins (in upper case)', async () => {
    const chosen = (await accounts()).filter((a) => Number(a.id) % 3 === 0).slice(0, 700);
    await expectPinned({ type: 'logins', logins: chosen.map((a) => a.login.toUpperCase()) }, ['imap', 'pop3'], chosen);
  });
});
