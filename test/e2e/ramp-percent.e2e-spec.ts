import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: numbers at the edges of a ramp step's percent ("0 < percent ≤ 100, at most two decimals", 0.01 %
 * resolution). The two-decimal rule compared with an absolute tolerance, so any percent under 1e-8 (1e-9, 5e-324, the
 * smallest double) passed as "two decimals" although it rounds to 0.00 %, and was stored as given: a first step that
 * opens no account, then bakes. Each must be a 400 naming the step's percent, with no wave written.
 */
describe('a ramp percent that rounds to 0.00 is refused', () => {
  let api: ApiHarness;
  const count = async () => Number((await api.h.db.owner.query(`SELECT count(*)::int AS n FROM waves`))[0].n);
  const wave = (percent: string) =>
    `{"name":"ramp","selector":{"type":"remaining"},"protocols":["imap"],"ratePerSecond":1,` +
    `"steps":[{"percent":${percent},"bakeSeconds":60},{"percent":100,"bakeSeconds":0}]}`;

  beforeAll(async () => {
    api = await startApiHarness('proberamp', { accounts: 5 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it.each(['1e-9', '5e-324', '0.000000001'])('steps[0].percent = %s: 400 naming it, nothing written', async (p) => {
    const before = await count();
    const res = await api.call('POST', '/waves', { raw: wave(p), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.field).toBe('steps[0].percent');
    expect(await count()).toBe(before);
  });

  it('the smallest step the rule allows, 0.01 %, is taken', async () => {
    const res = await api.call('POST', '/waves', {
      raw: wave('0.01'),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(201);
    expect(res.body.steps[0].percent).toBe(0.01);
  });
});
