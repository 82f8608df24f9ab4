import { aWave, countersFromTruth, createEngineHarness, EngineHarness, loginRange } from '@app/testing';
import { simNow } from '@app/mailstore-sim';

/**
 * Invariant 6 while a wave runs: once a support hold returns, no wave call containing that account starts,
 * even for a batch claimed before the hold (the send permit decides holds in the statement that commits the send).
 */
describe('support holds during a running wave (real services)', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('hold', { accounts: 3000 });
    await h.importPopulation({ count: 3000, seed: 93, leakedShare: 0 });
    await h.startWorker();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('never starts a call for an account after its hold returned', async () => {
    const members = loginRange(1, 2000);
    const support = h.support();
    const w = await aWave('holds').logins(members).protocols('imap').rate(800).batchSize(40).concurrency(6).started(h);
    const heldAt = new Map<string, number>();
    for (let i = 0; i < 25; i++) {
      // Just ahead of where the wave is: likely claimed already, not yet sent.
      const done = (await h.counters(w.id)).enabled ?? 0;
      const login = members[Math.min(members.length - 1, done + 50 + i)];
      if (heldAt.has(login)) continue;
      await support.setHold(login, true, { reason: 'fraud check', ticket: `SEC-${i}` }, 'support:test');
      heldAt.set(login, simNow());
      await new Promise((r) => setTimeout(r, 60));
    }
    await h.untilWaveState(w.id, 'completed', { timeoutMs: 60_000, description: 'completed' });
    const calls = h.batchCalls(w.id);
    for (const [login, at] of heldAt) {
      const late = calls.filter((c) => c.startedAt > at && c.accounts.includes(login));
      expect([login, late.length]).toEqual([login, 0]);
    }
    const skippedHeld = await h.db.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM wave_members WHERE wave_id = $1 AND reason = 'held'`,
      [w.id],
    );
    expect(Number(skippedHeld[0].n)).toBeGreaterThan(0);
    expect(await h.counters(w.id)).toEqual(await countersFromTruth(h.db, w.id));
  }, 120_000);
});
