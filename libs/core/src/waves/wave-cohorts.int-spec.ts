import { aWave, createEngineHarness, EngineHarness } from '@app/testing';

/** wave-cohorts.ts: a cohort selector must name cohorts the imported population has (real PostgreSQL). */
describe('a wave over cohorts the population does not have is refused at creation', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await createEngineHarness('cohorts', { accounts: 10 });
  });
  afterAll(async () => {
    await h?.close();
  });

  const waves = async () =>
    Number((await h.db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM waves`))[0].n);

  it('before any import: refused, saying no account is imported yet; after it: accepted for a cohort it has', async () => {
    await expect(aWave('early').cohorts('health').create(h)).rejects.toMatchObject({
      kind: 'invalid',
      extra: {
        errors: [
          {
            field: 'selector.cohorts[0]',
            message: 'selector.cohorts[0] is "health", a cohort no imported account is in (no account is imported yet)',
          },
        ],
      },
    });
    expect(await waves()).toBe(0);
    // Every account in 'health', none in 'general'.
    await h.importPopulation({ count: 10, seed: 3, healthShare: 1 });
    expect((await aWave('health').cohorts('health').create(h)).state).toBe('draft');
    await expect(aWave('both').cohorts('health', 'general').create(h)).rejects.toMatchObject({
      extra: {
        errors: [
          {
            field: 'selector.cohorts[1]',
            message: `selector.cohorts[1] is "general", a cohort no imported account is in (the population's cohorts: health)`,
          },
        ],
      },
    });
    // Other selectors are not concerned: a logins selector reports unknown logins in its preview (not_found).
    expect((await aWave('logins').logins(['nobody@example.test']).create(h)).state).toBe('draft');
    expect(await waves()).toBe(2);
  });
});
