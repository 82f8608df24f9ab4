import { aWave, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';
import { simNow } from '@app/mailstore-sim';

/**
 * Invariant 6 across retries (issue 15): a forward batch whose earlier calls applied nothing (429, 503, a failure
 * before the request left) is decided again at its next permit, on the accounts as they are then, under a new key;
 * one whose earlier call may have applied something (500, a timeout, a lost answer) is resent as it was, under its
 * key (a different body would be refused, and the first call was sent before the hold).
 */
describe('eligibility on a retried forward batch (real services)', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('retry-elig', { accounts: 50 });
    await h.importPopulation({ count: 50, seed: 17, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('does not open, on a retry, an account held after the first attempt', async () => {
    const members = ['user1@example.test', 'user2@example.test', 'user3@example.test'];
    h.sim.setFaults({ script: ['503'], retryAfterSeconds: 2, endpoints: ['batch'] });
    const wave = await aWave('retry').logins(members).protocols('imap').rate(100).started(h);
    await pollUntil(() => h.sim.calls().some((c) => c.endpoint === 'batch'), { description: 'first attempt' });
    const support = h.support();
    await support.setHold(members[1], true, { reason: 'fraud check', ticket: 'SEC-1' }, 'support:test');
    const heldAt = simNow();
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    const opened = h.sim
      .calls()
      .filter((c) => c.endpoint === 'batch' && c.startedAt > heldAt && c.applied.includes(members[1]));
    expect(opened).toEqual([]);
    const keys = h.batchCalls(wave.id).map((c) => c.idempotencyKey!);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(`${keys[0]}~1`); // a new body, a new key
    expect(h.sim.account(members[1])?.protocols.imap).toBe(false);
    const rows = await h.db.dataSource.query<{ login: string; state: string; reason: string | null }[]>(
      `SELECT a.login, m.state, m.reason FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 ORDER BY a.login`,
      [wave.id],
    );
    expect(rows).toEqual([
      { login: members[0], state: 'enabled', reason: null },
      { login: members[1], state: 'skipped', reason: 'held' },
      { login: members[2], state: 'enabled', reason: null },
    ]);
  }, 60_000);

  it('resends a batch in doubt as it was, under its key, and records what the mailstore did', async () => {
    const members = ['user11@example.test', 'user12@example.test'];
    h.sim.setFaults({ script: ['500'], endpoints: ['batch'] });
    const wave = await aWave('doubt').logins(members).protocols('imap').rate(100).started(h);
    await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });
    const calls = h.batchCalls(wave.id);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    expect(new Set(calls.map((c) => c.idempotencyKey)).size).toBe(1);
    const rows = await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM wave_members WHERE wave_id = $1`, [
      wave.id,
    ]);
    expect(rows.map((r) => r.state)).toEqual(['enabled', 'enabled']);
    for (const login of members) expect(h.sim.account(login)?.protocols.imap).toBe(true);
  }, 60_000);
});
