import { evaluateGate, formatGateValue, Gate, GateInput, MAX_GATES, SignalSample, validateGates } from './gates';

const NOW = new Date('2026-05-09T07:00:00.000Z');
const secondsAgo = (s: number) => new Date(NOW.getTime() - s * 1000);
const sample = (value: number, ageSeconds = 10): SignalSample => ({
  value,
  observedAt: secondsAgo(ageSeconds),
  windowSeconds: 60,
});

/** Builders: one gate of each kind, overridable. */
const errorRateGate = (over: Partial<Gate> = {}): Gate => ({
  name: 'errors',
  metric: 'mailstore_error_rate',
  windowSeconds: 300,
  minSamples: 100,
  threshold: 0.02,
  action: 'halt',
  ...over,
});
const latencyGate = (over: Partial<Gate> = {}): Gate => ({
  name: 'latency',
  metric: 'mailstore_p95_latency_ms',
  windowSeconds: 300,
  minSamples: 50,
  threshold: 2000,
  action: 'pause',
  ...over,
});
const signalGate = (over: Partial<Gate> = {}): Gate => ({
  name: 'failed-logins',
  metric: 'signal',
  signal: 'failed_logins_per_minute',
  cohort: 'health',
  windowSeconds: 60,
  minSamples: 0,
  threshold: 100,
  action: 'halt_and_rollback',
  ...over,
});
const relativeGate = (over: Partial<Gate> = {}): Gate =>
  signalGate({ threshold: 5, relativeTo: { cohort: 'general', factor: 2 }, ...over });

describe('validateGates', () => {
  it.each([
    ['no gates', []],
    ['one of each kind', [errorRateGate(), latencyGate(), signalGate(), relativeGate({ name: 'relative' })]],
    [
      'boundary values',
      [errorRateGate({ windowSeconds: 1, minSamples: 0, threshold: 0 }), latencyGate({ windowSeconds: 86_400 })],
    ],
    ['an explicit comparison and grace', [signalGate({ comparison: 'above', graceSeconds: 0 })]],
    ['a population-wide signal', [signalGate({ cohort: undefined })]],
    ['a full error-rate threshold', [errorRateGate({ threshold: 1 })]],
  ])('accepts %s', (_case, gates) => {
    expect(validateGates(gates)).toEqual([]);
  });

  it.each([
    ['window 0', errorRateGate({ windowSeconds: 0 }), 'gates[0].windowSeconds', 'gates[0].windowSeconds must be ≥ 1'],
    [
      'window too long',
      errorRateGate({ windowSeconds: 86_401 }),
      'gates[0].windowSeconds',
      'gates[0].windowSeconds must be ≤ 86400',
    ],
    [
      'fractional window',
      errorRateGate({ windowSeconds: 1.5 }),
      'gates[0].windowSeconds',
      'gates[0].windowSeconds must be an integer',
    ],
    [
      'negative minSamples',
      errorRateGate({ minSamples: -1 }),
      'gates[0].minSamples',
      'gates[0].minSamples must be ≥ 0',
    ],
    [
      'NaN threshold',
      errorRateGate({ threshold: Number.NaN }),
      'gates[0].threshold',
      'gates[0].threshold must be a number',
    ],
    [
      'error rate above 1',
      errorRateGate({ threshold: 1.5 }),
      'gates[0].threshold',
      'gates[0].threshold must be between 0 and 1 (a fraction of calls)',
    ],
    [
      'negative error rate',
      errorRateGate({ threshold: -0.1 }),
      'gates[0].threshold',
      'gates[0].threshold must be between 0 and 1 (a fraction of calls)',
    ],
    ['zero latency', latencyGate({ threshold: 0 }), 'gates[0].threshold', 'gates[0].threshold must be greater than 0'],
    [
      'unknown metric',
      errorRateGate({ metric: 'cpu' as never }),
      'gates[0].metric',
      "gates[0].metric must be one of 'mailstore_error_rate', 'mailstore_p95_latency_ms', 'signal', " +
        "'login_failures_per_minute', 'login_failure_ratio', 'prometheus'",
    ],
    [
      'unknown action',
      errorRateGate({ action: 'stop' as never }),
      'gates[0].action',
      "gates[0].action must be one of 'pause', 'halt', 'halt_and_rollback'",
    ],
    [
      'comparison below',
      errorRateGate({ comparison: 'below' as never }),
      'gates[0].comparison',
      "gates[0].comparison must be one of 'above'",
    ],
    [
      'signal gate without signal',
      signalGate({ signal: undefined }),
      'gates[0].signal',
      'gates[0].signal is required for a signal gate',
    ],
    ['blank signal', signalGate({ signal: ' ' }), 'gates[0].signal', 'gates[0].signal is required for a signal gate'],
    ['blank cohort', signalGate({ cohort: '' }), 'gates[0].cohort', 'gates[0].cohort must be a non-empty name'],
    [
      'signal on a built-in metric',
      errorRateGate({ signal: 'x' }),
      'gates[0].signal',
      'gates[0].signal is only allowed when metric is signal',
    ],
    [
      'cohort on a built-in metric',
      latencyGate({ cohort: 'health' }),
      'gates[0].cohort',
      'gates[0].cohort is only allowed when metric is signal or login_failures_per_minute or login_failure_ratio',
    ],
    [
      'grace on a built-in metric',
      latencyGate({ graceSeconds: 5 }),
      'gates[0].graceSeconds',
      'gates[0].graceSeconds is only allowed when metric is signal',
    ],
    [
      'relativeTo on a built-in metric',
      errorRateGate({ relativeTo: { cohort: 'general', factor: 2 } }),
      'gates[0].relativeTo',
      'gates[0].relativeTo is only allowed when metric is signal or login_failures_per_minute or login_failure_ratio',
    ],
    ['negative grace', signalGate({ graceSeconds: -1 }), 'gates[0].graceSeconds', 'gates[0].graceSeconds must be ≥ 0'],
    [
      'relative to nothing',
      relativeGate({ relativeTo: { cohort: '', factor: 2 } }),
      'gates[0].relativeTo.cohort',
      'gates[0].relativeTo.cohort must be a non-empty name',
    ],
    [
      'relative to itself',
      relativeGate({ relativeTo: { cohort: 'health', factor: 2 } }),
      'gates[0].relativeTo.cohort',
      'gates[0].relativeTo.cohort must differ from the gate cohort',
    ],
    [
      'factor 0',
      relativeGate({ relativeTo: { cohort: 'general', factor: 0 } }),
      'gates[0].relativeTo.factor',
      'gates[0].relativeTo.factor must be greater than 0',
    ],
    [
      'factor missing',
      relativeGate({ relativeTo: { cohort: 'general' } as never }),
      'gates[0].relativeTo.factor',
      'gates[0].relativeTo.factor must be a number',
    ],
    [
      'name with a space',
      errorRateGate({ name: 'error rate' }),
      'gates[0].name',
      'gates[0].name must be 1–64 letters, digits, _ . - (starting with a letter or digit)',
    ],
    [
      'empty name',
      errorRateGate({ name: '' }),
      'gates[0].name',
      'gates[0].name must be 1–64 letters, digits, _ . - (starting with a letter or digit)',
    ],
    [
      'name with a colon',
      errorRateGate({ name: 'gate:x' }),
      'gates[0].name',
      'gates[0].name must be 1–64 letters, digits, _ . - (starting with a letter or digit)',
    ],
  ])('reports %s', (_case, gate, field, message) => {
    expect(validateGates([gate])).toEqual([{ field, message }]);
  });

  it('reports duplicate names on the second gate', () => {
    expect(validateGates([errorRateGate(), latencyGate({ name: 'errors' })])).toEqual([
      { field: 'gates[1].name', message: 'gates[1].name must be unique (errors is used twice)' },
    ]);
  });

  it('reports every field of a broken gate, and survives null entries', () => {
    const fields = validateGates([null as never]).map((e) => e.field);
    expect(fields).toEqual([
      'gates[0].name',
      'gates[0].metric',
      'gates[0].windowSeconds',
      'gates[0].minSamples',
      'gates[0].threshold',
      'gates[0].action',
    ]);
  });

  it('limits the number of gates', () => {
    const gates = Array.from({ length: MAX_GATES + 1 }, (_, i) => errorRateGate({ name: `g${i}` }));
    expect(validateGates(gates)).toEqual([{ field: 'gates', message: `gates must have at most ${MAX_GATES} gates` }]);
  });
});

describe('evaluateGate: built-in metrics', () => {
  const win = (calls: number, errors = 0, p95LatencyMs: number | null = 100): GateInput => ({
    window: { calls, errors, p95LatencyMs },
  });

  it.each([
    // [case, gate, input, status, value]
    ['error rate, no window', errorRateGate(), {}, 'insufficient_data', undefined],
    ['error rate, one call short of minSamples', errorRateGate(), win(99, 50), 'insufficient_data', undefined],
    ['error rate, exactly at the threshold', errorRateGate(), win(100, 2), 'ok', 0.02],
    ['error rate, just above', errorRateGate(), win(100, 3), 'breached', 0.03],
    ['error rate, just above on a large window', errorRateGate(), win(100_000, 2001), 'breached', 0.02001],
    ['error rate, no errors', errorRateGate(), win(5000, 0), 'ok', 0],
    ['error rate, minSamples 0 and no call', errorRateGate({ minSamples: 0 }), win(0), 'insufficient_data', undefined],
    ['error rate, minSamples 0, one failed call', errorRateGate({ minSamples: 0 }), win(1, 1), 'breached', 1],
    ['error rate, threshold 1 never breaches', errorRateGate({ threshold: 1 }), win(100, 100), 'ok', 1],
    ['latency, one call short', latencyGate(), win(49, 0, 9999), 'insufficient_data', undefined],
    ['latency, at the threshold', latencyGate(), win(50, 0, 2000), 'ok', 2000],
    ['latency, just above', latencyGate(), win(50, 0, 2001), 'breached', 2001],
    ['latency, not measured', latencyGate(), win(500, 0, null), 'insufficient_data', undefined],
  ] as const)('%s -> %s', (_case, gate, input, status, value) => {
    const result = evaluateGate(gate, input, NOW);
    expect(result).toMatchObject({ gate: gate.name, action: gate.action, status, threshold: gate.threshold });
    expect(result.value).toBe(value);
    expect(result.reason.length).toBeGreaterThan(10);
  });

  it('explains a breach with the numbers', () => {
    expect(evaluateGate(errorRateGate(), win(200, 7), NOW).reason).toBe(
      'error rate 0.035 over 200 calls is above 0.02',
    );
    expect(evaluateGate(errorRateGate(), win(12), NOW).reason).toBe(
      '12 calls in the last 300 s, fewer than the 100 needed',
    );
  });
});

describe('evaluateGate: signals', () => {
  it.each([
    // [case, gate, input, status, value, control]
    ['no sample at all', signalGate(), {}, 'inconclusive', undefined, undefined],
    ['null sample', signalGate(), { sample: null }, 'inconclusive', undefined, undefined],
    ['exactly window + grace old', signalGate(), { sample: sample(1, 120) }, 'inconclusive', undefined, undefined],
    ['one ms newer than window + grace', signalGate(), { sample: sample(1, 119.999) }, 'ok', 1, undefined],
    ['fresh, at the threshold', signalGate(), { sample: sample(100) }, 'ok', 100, undefined],
    ['fresh, above', signalGate(), { sample: sample(100.5) }, 'breached', 100.5, undefined],
    ['NaN value is no data', signalGate(), { sample: sample(Number.NaN) }, 'inconclusive', undefined, undefined],
    [
      'grace 0: window old',
      signalGate({ graceSeconds: 0 }),
      { sample: sample(1, 60) },
      'inconclusive',
      undefined,
      undefined,
    ],
    ['grace 0: inside the window', signalGate({ graceSeconds: 0 }), { sample: sample(1, 59) }, 'ok', 1, undefined],
    ['long grace', signalGate({ graceSeconds: 600 }), { sample: sample(1, 650) }, 'ok', 1, undefined],
    ['a sample from a clock ahead of ours', signalGate(), { sample: sample(500, -30) }, 'breached', 500, undefined],
    ['relative: control missing', relativeGate(), { sample: sample(30) }, 'inconclusive', 30, undefined],
    [
      'relative: control stale',
      relativeGate(),
      { sample: sample(30), control: sample(10, 120) },
      'inconclusive',
      30,
      undefined,
    ],
    [
      'relative: above factor × control',
      relativeGate(),
      { sample: sample(30), control: sample(10) },
      'breached',
      30,
      10,
    ],
    ['relative: at factor × control', relativeGate(), { sample: sample(20), control: sample(10) }, 'ok', 20, 10],
    ['relative: quiet control, under the floor', relativeGate(), { sample: sample(5), control: sample(0) }, 'ok', 5, 0],
    [
      'relative: quiet control, above the floor',
      relativeGate(),
      { sample: sample(6), control: sample(0) },
      'breached',
      6,
      0,
    ],
    [
      'relative: above factor × control, under the floor',
      relativeGate(),
      { sample: sample(4), control: sample(1) },
      'ok',
      4,
      1,
    ],
    [
      'relative: fresh cohort, stale own sample',
      relativeGate(),
      { sample: sample(30, 500), control: sample(1) },
      'inconclusive',
      undefined,
      undefined,
    ],
  ] as const)('%s -> %s', (_case, gate, input, status, value, control) => {
    const result = evaluateGate(gate, input, NOW);
    expect(result).toMatchObject({ gate: gate.name, status, threshold: gate.threshold });
    expect(result.value).toBe(value);
    expect(result.control).toBe(control);
  });

  it('says which signal is missing and since when', () => {
    expect(evaluateGate(signalGate(), {}, NOW).reason).toBe(
      'no failed_logins_per_minute for health sample since 2026-05-09T06:58:00.000Z',
    );
    expect(evaluateGate(relativeGate(), { sample: sample(30), control: sample(10) }, NOW).reason).toBe(
      'failed_logins_per_minute for health 30 vs 2 × 10 (general), floor 5: above 20',
    );
  });
});

describe('formatGateValue', () => {
  it.each([
    [0.035, '0.035'],
    [0.1, '0.1'],
    [2000.4, '2000'],
    [12345.6, '12350'],
    [1 / 3, '0.3333'],
    [42, '42'],
  ])('%p -> %s', (value, text) => {
    expect(formatGateValue(value)).toBe(text);
  });
});
