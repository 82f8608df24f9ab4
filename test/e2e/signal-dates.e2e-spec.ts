import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: dates that do not exist. POST /signals checked observedAt's shape with a regular expression, then
 * let Date read it, and Date rolls a day past the month's end over: "2026-11-31T12:00:00Z" was stored as
 * 2026-12-01T12:00:00Z, a sample for another day than the feed sent, feeding the gates. Elsewhere (the CSV import,
 * startLocal, blackouts) such a date is refused. It must be a 400 naming observedAt as not a valid instant, and no
 * signal may be written.
 */
describe('POST /signals refuses an observedAt whose date does not exist', () => {
  let api: ApiHarness;
  const count = async () => Number((await api.h.db.owner.query(`SELECT count(*)::int AS n FROM signals`))[0].n);
  const push = (observedAt: string) =>
    api.call('POST', '/signals', {
      key: 'signals',
      body: { name: 'failed_logins', value: 1, windowSeconds: 60, observedAt },
    });

  /** The 31st of the latest 30-day month: Date reads it as the 1st of the next month (within the 7-day window early in a month). */
  const latestThirtyFirst = (): string => {
    const now = new Date();
    for (let back = 0; ; back++) {
      const first = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
      const days = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
      const rolled = Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1, 0, 0);
      if (days === 30 && rolled <= now.getTime()) {
        const mm = String(first.getUTCMonth() + 1).padStart(2, '0');
        return `${first.getUTCFullYear()}-${mm}-31T00:00:00Z`;
      }
    }
  };

  beforeAll(async () => {
    api = await startApiHarness('probedates', { accounts: 5 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it.each([latestThirtyFirst(), '2025-02-29T08:00:00Z', '2026-02-30T08:00:00+01:00', '2026-04-31T23:59:59Z'])(
    'observedAt %s: 400 naming it as not a valid instant, nothing written',
    async (observedAt) => {
      const before = await count();
      const res = await push(observedAt);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(res.body.errors).toEqual([
        { field: 'observedAt', message: expect.stringMatching(/must be an ISO 8601 instant/) },
      ]);
      expect(await count()).toBe(before);
    },
  );

  it('a date that exists is taken as written', async () => {
    const at = new Date(Date.now() - 60_000);
    at.setUTCMilliseconds(0);
    const res = await push(at.toISOString());
    expect(res.status).toBe(201);
    expect(res.body.observedAt).toBe(at.toISOString());
  });
});
