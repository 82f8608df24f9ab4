import { aWave, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';

/**
 * The service runs as the runtime role, which does not own wave_members: a plain ANALYZE from it is skipped with a
 * warning, and the claims of a big wave then sort every pending member (bench:rollback: 7.2 s instead of 0.12 s per
 * claim). Freezing a wave's membership must still refresh the table's statistics.
 */
describe('wave statistics under the runtime role (real PostgreSQL)', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('statistics', { accounts: 100 });
    await h.importPopulation({ count: 100, seed: 3 });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('analyzes wave_members when a wave freezes its membership', async () => {
    const lastAnalyze = async () =>
      (
        await h.db.owner.query<{ last_analyze: Date | null }[]>(
          `SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'wave_members'`,
        )
      )[0].last_analyze;
    expect(await lastAnalyze()).toBeNull();
    // Through h.commands, which runs as the runtime role, as in the worker and the API.
    await aWave('stats').remaining().protocols('imap').rate(10).batchSize(10).started(h);
    await pollUntil(async () => (await lastAnalyze()) !== null, {
      timeoutMs: 5000,
      description: 'wave_members analyzed',
    });
  });
});
