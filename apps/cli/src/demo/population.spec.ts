import { ACCOUNT_CSV_COLUMNS, parseAccountLine } from '@app/domain';
import { demoAccount, findAccount, populationCsv, summarizePopulation } from './population';

const incidentAt = new Date('2026-05-01T00:00:00Z');

describe('the demo population', () => {
  it('has the incident shape: ~3 % health, ~12 % leaked, most of those reset', () => {
    const s = summarizePopulation(50_000, incidentAt);
    expect(s.health / s.total).toBeGreaterThan(0.025);
    expect(s.health / s.total).toBeLessThan(0.035);
    expect(s.leaked / s.total).toBeGreaterThan(0.11);
    expect(s.leaked / s.total).toBeLessThan(0.13);
    expect(s.leakedReset / s.leaked).toBeGreaterThan(0.75);
    expect(s.leakedReset / s.leaked).toBeLessThan(0.85);
    expect(s.held).toBe(s.leaked - s.leakedReset);
  });

  it('holds back exactly the leaked accounts whose password did not change after the incident', () => {
    for (let n = 1; n <= 5000; n++) {
      const a = demoAccount(n, incidentAt);
      const changedAfter = a.passwordChangedAt !== null && a.passwordChangedAt > incidentAt;
      if (a.leaked) expect(a.reset).toBe(changedAfter);
      else expect(a.reset).toBe(false);
    }
  });

  it('writes lines the import accepts, with the simulator’s logins', async () => {
    let text = '';
    for await (const chunk of populationCsv(1200, incidentAt, 500)) text += chunk.toString();
    const lines = text.split('\n').filter(Boolean);
    expect(lines[0]).toBe(ACCOUNT_CSV_COLUMNS.join(','));
    expect(lines).toHaveLength(1201);
    lines.slice(1).forEach((line, i) => {
      const parsed = parseAccountLine(line, i + 2);
      expect(parsed).toMatchObject({ ok: true, row: { login: `user${i + 1}@example.test` } });
    });
  });

  it('finds the accounts the support scenes need', () => {
    const held = findAccount(20_000, incidentAt, (a) => a.cohort === 'health' && a.leaked && !a.reset);
    expect(held).toMatchObject({ cohort: 'health', leaked: true, reset: false });
    expect(() => findAccount(10, incidentAt, () => false)).toThrow(/raise DEMO_ACCOUNTS/);
  });
});
