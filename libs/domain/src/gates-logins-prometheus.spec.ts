import {
  ANALYSIS_DEFAULTS,
  countMeasurement,
  assessAnalysis,
  measure,
  NO_MEASUREMENTS,
  parseCondition,
} from './analysis';
import { checkMeasurement, evaluateGate, Gate, LoginInput, validateGates } from './gates';

const NOW = new Date('2026-05-11T09:00:00.000Z');
const ago = (s: number) => new Date(NOW.getTime() - s * 1000);

const loginGate = (over: Partial<Gate> = {}): Gate => ({
  name: 'stuffing',
  metric: 'login_failures_per_minute',
  windowSeconds: 120,
  minSamples: 10,
  threshold: 30,
  action: 'halt',
  ...over,
});
const ratioGate = (over: Partial<Gate> = {}): Gate =>
  loginGate({ name: 'ratio', metric: 'login_failure_ratio', threshold: 0.5, ...over });
const promGate = (over: Partial<Gate> = {}): Gate =>
  ({
    name: 'prom',
    metric: 'prometheus',
    query: 'sum(rate(dovecot_auth_failures_total[1m]))',
    intervalSeconds: 5,
    failureCondition: 'result > 10',
    action: 'halt',
    ...over,
  }) as Gate;

const logins = (failed: number, succeeded: number, over: Partial<LoginInput> = {}): LoginInput => ({
  window: { failed, succeeded, windowSeconds: 120 },
  lastEventAt: ago(2),
  ...over,
});

describe('login gates: validation', () => {
  it('accepts both metrics, a cohort, a control cohort and a silence limit', () => {
    expect(
      validateGates([
        loginGate({ cohort: 'health', silenceSeconds: 60 }),
        ratioGate({ relativeTo: { cohort: 'general', factor: 3 } }),
      ]),
    ).toEqual([]);
  });

  it.each([
    ['a window not in 10 s buckets', loginGate({ windowSeconds: 45 }), 'gates[0].windowSeconds'],
    ['a ratio above 1', ratioGate({ threshold: 1.5 }), 'gates[0].threshold'],
    ['a silence under one bucket', loginGate({ silenceSeconds: 5 }), 'gates[0].silenceSeconds'],
    ['a query on a login gate', loginGate({ query: 'up' }), 'gates[0].query'],
    [
      'silence on a mailstore gate',
      { ...loginGate(), metric: 'mailstore_error_rate', threshold: 0.1, silenceSeconds: 60 },
      'gates[0].silenceSeconds',
    ],
  ])('refuses %s, naming the field', (_case, gate, field) => {
    expect(validateGates([gate]).map((e) => e.field)).toEqual([field]);
  });
});

describe('login gates: evaluation', () => {
  it('failed logins per minute over the window, against the threshold', () => {
    expect(evaluateGate(loginGate(), { logins: logins(80, 20) }, NOW)).toMatchObject({
      status: 'breached',
      value: 40,
      reason: '40 failed logins/min on accounts this wave opened is above 30',
    });
    expect(evaluateGate(loginGate({ cohort: 'health' }), { logins: logins(20, 80) }, NOW)).toMatchObject({
      status: 'ok',
      value: 10,
      reason: '10 failed logins/min on health accounts this wave opened is within 30',
    });
  });

  it('the failure ratio tells a credential-stuffing burst from users mistyping', () => {
    expect(evaluateGate(ratioGate(), { logins: logins(95, 5) }, NOW)).toMatchObject({
      status: 'breached',
      value: 0.95,
    });
    expect(evaluateGate(ratioGate(), { logins: logins(3, 97) }, NOW)).toMatchObject({ status: 'ok', value: 0.03 });
  });

  it('too few logins is insufficient data, not a verdict', () => {
    expect(evaluateGate(ratioGate(), { logins: logins(5, 4) }, NOW)).toMatchObject({
      status: 'insufficient_data',
      reason: '9 logins on accounts this wave opened in the last 120 s, fewer than the 10 needed',
    });
    expect(evaluateGate(ratioGate({ minSamples: 0 }), { logins: logins(0, 0) }, NOW).status).toBe('insufficient_data');
  });

  it('a silent stream is inconclusive: no event for longer than silenceSeconds (default 300), or none ever', () => {
    expect(evaluateGate(loginGate(), { logins: logins(0, 50, { lastEventAt: ago(301) }) }, NOW)).toMatchObject({
      status: 'inconclusive',
      reason: `no login event for a known account from the mail server since ${ago(301).toISOString()} (silence limit 300 s)`,
    });
    expect(
      evaluateGate(loginGate({ silenceSeconds: 30 }), { logins: logins(0, 50, { lastEventAt: ago(31) }) }, NOW).status,
    ).toBe('inconclusive');
    expect(evaluateGate(loginGate(), { logins: logins(0, 0, { lastEventAt: null }) }, NOW)).toMatchObject({
      status: 'inconclusive',
      reason: 'no login event for a known account from the mail server ever (silence limit 300 s)',
    });
    expect(evaluateGate(loginGate(), {}, NOW).status).toBe('inconclusive');
  });

  it('relativeTo: above the floor and above factor × the control cohort', () => {
    const gate = ratioGate({ threshold: 0.1, relativeTo: { cohort: 'general', factor: 3 } });
    const control = { failed: 5, succeeded: 95, windowSeconds: 120 }; // 5 % typo noise in the control cohort
    expect(evaluateGate(gate, { logins: logins(12, 88, { control }) }, NOW)).toMatchObject({
      status: 'ok', // 12 % is above the floor but not above 3 × 5 %
      value: 0.12,
      control: 0.05,
    });
    expect(evaluateGate(gate, { logins: logins(40, 60, { control }) }, NOW)).toMatchObject({
      status: 'breached',
      reason: expect.stringContaining('above 0.15'),
    });
    // A quiet control cohort (no login in the window) counts as 0: the floor decides.
    expect(
      evaluateGate(gate, { logins: logins(12, 88, { control: { failed: 0, succeeded: 0, windowSeconds: 120 } }) }, NOW),
    ).toMatchObject({
      status: 'breached',
      control: 0,
    });
  });
});

describe('prometheus gates', () => {
  const failure = parseCondition('result > 10');
  if (typeof failure === 'string') throw new Error(failure);

  it('validates a query, an interval and at least one condition; no window, samples or threshold', () => {
    expect(validateGates([promGate()])).toEqual([]);
    expect(
      validateGates([promGate({ successCondition: 'result < 1', failureLimit: 2, consecutiveErrorLimit: 0 })]),
    ).toEqual([]);
    const fields = (g: Gate) => validateGates([g]).map((e) => e.field);
    expect(fields(promGate({ query: '' }))).toEqual(['gates[0].query']);
    expect(fields(promGate({ query: 'x'.repeat(2001) }))).toEqual(['gates[0].query']);
    expect(fields(promGate({ intervalSeconds: 0 }))).toEqual(['gates[0].intervalSeconds']);
    expect(fields(promGate({ failureCondition: undefined }))).toEqual(['gates[0].successCondition']);
    expect(fields(promGate({ failureCondition: 'result >' }))).toEqual(['gates[0].failureCondition']);
    expect(fields(promGate({ windowSeconds: 60, threshold: 1 }))).toEqual([
      'gates[0].windowSeconds',
      'gates[0].threshold',
    ]);
    expect(fields(promGate({ cohort: 'health' }))).toEqual(['gates[0].cohort']);
  });

  it('reads the analysis: running is ok, failed is a breach, inconclusive and error pause', () => {
    const ok = measure({ kind: 'value', value: 3 }, { failureCondition: failure });
    const bad = measure({ kind: 'value', value: 30 }, { failureCondition: failure });
    const empty = measure({ kind: 'empty' }, { failureCondition: failure });
    const down = measure({ kind: 'error', message: 'unreachable (ECONNREFUSED)' }, { failureCondition: failure });
    const verdict = (...phases: (typeof ok)['phase'][]) =>
      assessAnalysis(phases.reduce(countMeasurement, NO_MEASUREMENTS), ANALYSIS_DEFAULTS);

    expect(evaluateGate(promGate(), { analysis: { last: null, verdict: verdict() } }, NOW)).toMatchObject({
      status: 'insufficient_data',
      reason: 'no measurement yet',
    });
    expect(evaluateGate(promGate(), { analysis: { last: ok, verdict: verdict('successful') } }, NOW)).toMatchObject({
      status: 'ok',
      value: 3,
      reason: 'not result > 10 (3)',
    });
    expect(
      evaluateGate(promGate(), { analysis: { last: bad, verdict: verdict('successful', 'failed') } }, NOW),
    ).toMatchObject({
      status: 'breached',
      value: 30,
      reason: 'failed (1) > failureLimit (0); last: result > 10 (30)',
    });
    expect(
      evaluateGate(promGate(), { analysis: { last: empty, verdict: verdict('inconclusive') } }, NOW),
    ).toMatchObject({
      status: 'inconclusive',
      reason: 'inconclusive (1) > inconclusiveLimit (0); last: the query returned no data',
    });
    const errors = verdict('error', 'error', 'error', 'error', 'error');
    expect(evaluateGate(promGate(), { analysis: { last: down, verdict: errors } }, NOW)).toMatchObject({
      status: 'inconclusive',
      reason: 'consecutiveErrors (5) > consecutiveErrorLimit (4); last: query failed: unreachable (ECONNREFUSED)',
    });
    // Errors within consecutiveErrorLimit: the wave goes on (not ok, not a stop), the gate says why it has no value.
    expect(
      evaluateGate(promGate(), { analysis: { last: down, verdict: verdict('error', 'error') } }, NOW),
    ).toMatchObject({
      status: 'insufficient_data',
      reason: 'error, within the limits: query failed: unreachable (ECONNREFUSED)',
    });
  });

  it('reads a trial query for a check: only a number meeting the conditions is ok, anything else is flagged', () => {
    const success = parseCondition('result < 1');
    if (typeof success === 'string') throw new Error(success);
    const both = { successCondition: success, failureCondition: failure };
    const trial = (result: Parameters<typeof measure>[0]) => checkMeasurement(promGate(), measure(result, both));
    expect(trial({ kind: 'value', value: 0.5 })).toEqual({
      gate: 'prom',
      action: 'halt',
      threshold: undefined,
      status: 'ok',
      value: 0.5,
      reason: 'trial query: result < 1 (0.5)',
    });
    expect(trial({ kind: 'value', value: 30 })).toMatchObject({ status: 'breached', value: 30 });
    // Between the two conditions: Argo's inconclusive, as a run would count it.
    expect(trial({ kind: 'value', value: 5 })).toMatchObject({
      status: 'inconclusive',
      value: 5,
      reason: 'trial query: neither result < 1 nor result > 10 (5)',
    });
    expect(trial({ kind: 'value', value: NaN })).toEqual(
      expect.objectContaining({ status: 'inconclusive', reason: 'trial query: the query returned NaN' }),
    );
    expect(trial({ kind: 'value', value: NaN })).not.toHaveProperty('value');
    expect(trial({ kind: 'empty' })).toMatchObject({ status: 'inconclusive' });
    // An error a run would tolerate up to consecutiveErrorLimit is flagged here: the night before is for fixing it.
    expect(trial({ kind: 'error', message: 'unreachable (ECONNREFUSED)' })).toMatchObject({
      status: 'inconclusive',
      reason: 'trial query: query failed: unreachable (ECONNREFUSED)',
    });
  });
});

describe('a deployment without Prometheus', () => {
  it('refuses a prometheus gate, naming the metric and the missing setting', () => {
    const gate = {
      name: 'prom',
      metric: 'prometheus',
      query: 'vector(1)',
      intervalSeconds: 5,
      failureCondition: 'result > 1',
      action: 'halt',
    };
    expect(validateGates([gate], 'gates', { prometheus: false })).toEqual([
      { field: 'gates[0].metric', message: 'gates[0].metric prometheus needs PROMETHEUS_URL set on the service' },
    ]);
    expect(validateGates([gate], 'gates', { prometheus: true })).toEqual([]);
  });
});
