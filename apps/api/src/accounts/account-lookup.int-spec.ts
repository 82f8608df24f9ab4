import { AuditQueryService } from '@app/core';
import { DEFAULT_INCIDENT_AT, populationAccount } from '@app/domain';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';
import { AccountLookupService } from './account-lookup.service';

// The simulator knows user1..user20; the service imports one more, which the mailstore has never heard of.
const KNOWN = 20;
const SEED = 5;

describe('support lookup after a wave met a login unknown to the mailstore (real settle, simulator, PostgreSQL)', () => {
  let h: EngineHarness;
  let lookup: AccountLookupService;

  beforeAll(async () => {
    h = await createEngineHarness('lookup', { accounts: KNOWN });
    await h.importPopulation({ count: KNOWN + 1, seed: SEED });
    await h.startWorker();
    lookup = new AccountLookupService(h.db.dataSource, new AuditQueryService(h.db.dataSource), h.config);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('says the account is unknown to the mailstore once a wave was answered not_found for it', async () => {
    const unknown = populationAccount(KNOWN + 1, { count: KNOWN + 1, seed: SEED, incidentAt: DEFAULT_INCIDENT_AT });
    // Not on the leaked list: the only thing that keeps it from being opened is the mailstore not knowing it.
    expect(unknown.leaked).toBe(false);
    const known = populationAccount(1, { count: KNOWN + 1, seed: SEED, incidentAt: DEFAULT_INCIDENT_AT });
    expect(known.leaked).toBe(false);

    const wave = await aWave('one unknown login')
      .logins([known.login, unknown.login])
      .protocols('imap', 'pop3')
      .rate(1000)
      .batchSize(10)
      .started(h);
    await h.untilWaveState(wave.id, 'completed');
    expect(h.sim.account(unknown.login)).toBeUndefined();

    const view = await lookup.get(unknown.login);
    expect(view.waves).toEqual([
      expect.objectContaining({ waveId: wave.id, memberState: 'failed', reason: 'account_not_found' }),
    ]);
    expect(view.eligibility).toEqual({ eligible: false, reason: 'not_found' });

    // The login the mailstore knows was opened, and the next wave would have nothing to do for it.
    const opened = await lookup.get(known.login);
    expect(opened.waves).toEqual([expect.objectContaining({ waveId: wave.id, memberState: 'enabled', reason: null })]);
    expect(opened.eligibility).toEqual({ eligible: false, reason: 'already_enabled' });
  });
});
