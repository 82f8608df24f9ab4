import { createTestDatabase, TestDatabase } from '@app/testing';
import { ValidationError } from '../errors';
import { SignalService, signalKey } from './signal.service';

describe('SignalService (real PostgreSQL)', () => {
  let db: TestDatabase;
  let signals: SignalService;
  const now = new Date();
  const ago = (s: number) => new Date(now.getTime() - s * 1000).toISOString();

  beforeAll(async () => {
    db = await createTestDatabase('signals');
    signals = new SignalService(db.dataSource);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('records a sample with its source', async () => {
    const saved = await signals.record(
      { name: 'failed_logins', value: 12.5, windowSeconds: 60, observedAt: ago(30), cohort: 'health' },
      'signals:siem',
    );
    expect(saved).toMatchObject({
      name: 'failed_logins',
      value: 12.5,
      windowSeconds: 60,
      cohort: 'health',
      source: 'signals:siem',
    });
    expect(saved.observedAt.toISOString()).toBe(ago(30));
  });

  it('refuses bad samples, naming every field', async () => {
    const err = await signals
      .record(
        { name: ' bad name', value: Number.NaN, windowSeconds: 0, observedAt: '2999-01-01T00:00:00Z', cohort: '' },
        'signals:siem',
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors.map((e) => e.field)).toEqual([
      'name',
      'value',
      'windowSeconds',
      'cohort',
      'observedAt',
    ]);
    await expect(
      signals.record(
        { name: 'x', value: 1, windowSeconds: 60, observedAt: new Date(now.getTime() - 8 * 86_400_000) },
        's',
      ),
    ).rejects.toMatchObject({ errors: [{ field: 'observedAt' }] });
  });

  it('records a sample dated ahead of our clock as observed now: it neither hides later samples nor outlives its window', async () => {
    const t0 = new Date(Date.now() - 60_000);
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    // A feed 4 minutes fast says all is well, then (1 s later, by a correct clock) that logins fail.
    const ahead = await signals.record(
      { name: 'skewed', value: 0, windowSeconds: 60, observedAt: at(240).toISOString() },
      'signals:fast',
      t0,
    );
    expect(ahead.observedAt).toEqual(t0);
    await signals.record(
      { name: 'skewed', value: 500, windowSeconds: 60, observedAt: at(1).toISOString() },
      's',
      at(1),
    );
    expect(await signals.latest({ name: 'skewed', cohort: null })).toMatchObject({ value: 500, observedAt: at(1) });
  });

  it('finds the latest sample per (signal, cohort), the population-wide one apart from cohorts', async () => {
    await signals.record({ name: 'fails', value: 1, windowSeconds: 60, observedAt: ago(120) }, 's');
    await signals.record({ name: 'fails', value: 2, windowSeconds: 60, observedAt: ago(60) }, 's');
    await signals.record({ name: 'fails', value: 99, windowSeconds: 60, observedAt: ago(10), cohort: 'health' }, 's');
    await signals.record({ name: 'fails', value: 3, windowSeconds: 60, observedAt: ago(90), cohort: 'general' }, 's');
    // Arrival order does not matter: the newest observation wins.
    await signals.record({ name: 'fails', value: 0, windowSeconds: 60, observedAt: ago(300), cohort: 'general' }, 's');
    const keys = [
      { name: 'fails', cohort: null },
      { name: 'fails', cohort: 'health' },
      { name: 'fails', cohort: 'general' },
      { name: 'fails', cohort: 'nobody' },
    ];
    const latest = await signals.latestMany(keys);
    expect(keys.map((k) => latest.get(signalKey(k))?.value ?? null)).toEqual([2, 99, 3, null]);
    expect(await signals.latest({ name: 'unknown', cohort: null })).toBeNull();
  });

  it('lists the pairs a wave’s signal gates read', () => {
    expect(
      SignalService.keysOf([
        {
          name: 'a',
          metric: 'signal',
          signal: 'fails',
          cohort: 'health',
          relativeTo: { cohort: 'general', factor: 3 },
          windowSeconds: 60,
          minSamples: 0,
          threshold: 1,
          action: 'pause',
        },
        {
          name: 'b',
          metric: 'signal',
          signal: 'fails',
          windowSeconds: 60,
          minSamples: 0,
          threshold: 1,
          action: 'halt',
        },
        {
          name: 'c',
          metric: 'mailstore_error_rate',
          windowSeconds: 60,
          minSamples: 1,
          threshold: 0.1,
          action: 'pause',
        },
      ]),
    ).toEqual([
      { name: 'fails', cohort: 'health' },
      { name: 'fails', cohort: 'general' },
      { name: 'fails', cohort: null },
    ]);
  });
});
