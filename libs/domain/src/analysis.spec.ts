import {
  ANALYSIS_DEFAULTS,
  countMeasurement,
  analysisLimits,
  assessAnalysis,
  type Condition,
  holds,
  measure,
  MEASUREMENT_PHASES,
  type MeasurementPhase,
  NO_MEASUREMENTS,
  parseCondition,
  validateAnalysis,
} from './analysis';

function condition(text: string): Condition {
  const parsed = parseCondition(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

function countsOf(...phases: MeasurementPhase[]) {
  return phases.reduce(countMeasurement, NO_MEASUREMENTS);
}

describe('conditions', () => {
  it.each([
    ['result < 0.05', 0.04, true],
    ['result < 0.05', 0.05, false],
    ['result <= 0.05', 0.05, true],
    ['result > 10', 10, false],
    ['result >= 10', 10, true],
    ['result == 0', 0, true],
    ['result == 0', 1e-9, false],
    ['result != 0', 0, false],
    ['result != 0', -1, true],
    ['result>=1&&result<5', 3, true],
    ['result >= 1 && result < 5', 5, false],
    ['result == 0 || result > 10', 11, true],
    ['result == 0 || result > 10', 5, false],
    ['result < 1 && result > 0 || result == 7', 7, true],
    ['RESULT < 2e3', 1999, true],
    ['result > -0.5', -0.4, true],
    ['result < .5', 0.4, true],
  ])('%s with %p: %p', (text, value, expected) => {
    expect(holds(condition(text), value)).toBe(expected);
  });

  it.each([
    'result',
    'result < ',
    '< 5',
    'value < 5',
    'result < 5 &&',
    'result <> 5',
    'result < 5; process.exit()',
    'result < NaN',
    'result < Infinity',
    '(result < 5)',
    'result < 5 and result > 1',
    '',
  ])('refuses %p with a sentence', (text) => {
    expect(parseCondition(text)).toMatch(/^must /);
  });

  it('refuses a condition over 200 characters', () => {
    expect(parseCondition(`result < 1${' && result < 1'.repeat(20)}`)).toBe('must be at most 200 characters');
  });

  it('keeps the text, its spaces tidied, for reasons', () => {
    expect(condition('  result   <  0.05 ').text).toBe('result < 0.05');
  });
});

describe('measure (Argo: both, success only, failure only)', () => {
  const success = condition('result < 0.05');
  const failure = condition('result > 0.2');

  it.each([
    // value, conditions, phase
    [0.01, { successCondition: success, failureCondition: failure }, 'successful'],
    [0.1, { successCondition: success, failureCondition: failure }, 'inconclusive'],
    [0.3, { successCondition: success, failureCondition: failure }, 'failed'],
    [0.01, { successCondition: success }, 'successful'],
    [0.1, { successCondition: success }, 'failed'],
    [0.1, { failureCondition: failure }, 'successful'],
    [0.3, { failureCondition: failure }, 'failed'],
  ] as const)('%p → %s', (value, conditions, phase) => {
    const m = measure({ kind: 'value', value }, conditions);
    expect(m).toMatchObject({ phase, value });
    expect(m.reason).toContain(String(value));
  });

  it('a failure condition wins when both hold', () => {
    const both = { successCondition: condition('result > 0'), failureCondition: condition('result > 1') };
    expect(measure({ kind: 'value', value: 2 }, both).phase).toBe('failed');
  });

  it('missing data is never "go": empty and NaN are inconclusive, a failed query is an error', () => {
    const c = { successCondition: success };
    expect(measure({ kind: 'empty' }, c)).toEqual({ phase: 'inconclusive', reason: 'the query returned no data' });
    expect(measure({ kind: 'value', value: NaN }, c)).toMatchObject({ phase: 'inconclusive' });
    expect(measure({ kind: 'value', value: -Infinity }, c)).toMatchObject({ phase: 'inconclusive' });
    expect(measure({ kind: 'error', message: 'connection refused' }, c)).toEqual({
      phase: 'error',
      reason: 'query failed: connection refused',
    });
  });

  it('an infinity that fails the conditions is a failure (as Argo compares it), never a success', () => {
    // histogram_quantile past the last bucket, a ratio over no requests: +Inf above every failure threshold.
    const failure = { failureCondition: condition('result > 20') };
    expect(measure({ kind: 'value', value: Infinity }, failure)).toEqual({
      phase: 'failed',
      value: Infinity,
      reason: 'result > 20 (Infinity)',
    });
    expect(measure({ kind: 'value', value: Infinity }, { successCondition: success }).phase).toBe('failed');
    // An infinity that would meet the success condition, or that fails nothing: inconclusive, never "go".
    expect(measure({ kind: 'value', value: -Infinity }, failure).phase).toBe('inconclusive');
    expect(measure({ kind: 'value', value: -Infinity }, { successCondition: success }).phase).toBe('inconclusive');
    expect(measure({ kind: 'value', value: NaN }, failure).phase).toBe('inconclusive');
  });
});

describe('counts and the verdict (limits)', () => {
  it('counts every phase, and a non-error measurement ends a run of errors', () => {
    expect(countsOf('error', 'error', 'successful', 'error')).toEqual({
      measurements: 4,
      successful: 1,
      failed: 0,
      inconclusive: 0,
      errors: 3,
      consecutiveErrors: 1,
    });
    for (const phase of MEASUREMENT_PHASES.filter((p) => p !== 'error')) {
      expect(countsOf('error', phase).consecutiveErrors).toBe(0);
    }
  });

  it('defaults: the first failure fails, the first inconclusive stops, the fifth error in a row errs', () => {
    expect(assessAnalysis(countsOf('successful', 'successful'), ANALYSIS_DEFAULTS)).toEqual({ phase: 'running' });
    expect(assessAnalysis(countsOf('failed'), ANALYSIS_DEFAULTS)).toEqual({
      phase: 'failed',
      message: 'failed (1) > failureLimit (0)',
    });
    expect(assessAnalysis(countsOf('inconclusive'), ANALYSIS_DEFAULTS).phase).toBe('inconclusive');
    expect(assessAnalysis(countsOf('error', 'error', 'error', 'error'), ANALYSIS_DEFAULTS).phase).toBe('running');
    expect(assessAnalysis(countsOf('error', 'error', 'error', 'error', 'error'), ANALYSIS_DEFAULTS)).toEqual({
      phase: 'error',
      message: 'consecutiveErrors (5) > consecutiveErrorLimit (4)',
    });
  });

  it('limits are "more than": failureLimit 2 tolerates two failures, not three', () => {
    const limits = analysisLimits({ failureLimit: 2, inconclusiveLimit: 1, consecutiveErrorLimit: 0 });
    expect(assessAnalysis(countsOf('failed', 'successful', 'failed'), limits).phase).toBe('running');
    expect(assessAnalysis(countsOf('failed', 'failed', 'failed'), limits).phase).toBe('failed');
    expect(assessAnalysis(countsOf('inconclusive'), limits).phase).toBe('running');
    expect(assessAnalysis(countsOf('inconclusive', 'inconclusive'), limits).phase).toBe('inconclusive');
    expect(assessAnalysis(countsOf('error'), limits).phase).toBe('error');
  });

  it('errors that are not consecutive never err the gate', () => {
    const phases: MeasurementPhase[] = [];
    for (let i = 0; i < 20; i++) phases.push('error', 'successful');
    expect(assessAnalysis(countsOf(...phases), ANALYSIS_DEFAULTS)).toEqual({ phase: 'running' });
  });

  it('a failure outranks inconclusive and error when several limits are past', () => {
    const all = countsOf('inconclusive', 'failed', 'error', 'error', 'error', 'error', 'error');
    expect(assessAnalysis(all, ANALYSIS_DEFAULTS).phase).toBe('failed');
    const noFailure = countsOf('inconclusive', 'error', 'error', 'error', 'error', 'error');
    expect(assessAnalysis(noFailure, ANALYSIS_DEFAULTS).phase).toBe('inconclusive');
  });
});

describe('validateAnalysis', () => {
  it('accepts a gate with a condition and limits in range', () => {
    expect(validateAnalysis({ successCondition: 'result < 1', failureLimit: 3 }, 'gates[0]')).toEqual([]);
    expect(validateAnalysis({ failureCondition: 'result > 1', consecutiveErrorLimit: 0 }, 'gates[0]')).toEqual([]);
  });

  it('names every offending field', () => {
    const errors = validateAnalysis(
      { successCondition: 'result <', failureCondition: 7, failureLimit: -1, inconclusiveLimit: 1.5 },
      'gates[2]',
    );
    expect(errors.map((e) => e.field)).toEqual([
      'gates[2].successCondition',
      'gates[2].failureCondition',
      'gates[2].failureLimit',
      'gates[2].inconclusiveLimit',
    ]);
    expect(errors.every((e) => e.message.startsWith(e.field))).toBe(true);
  });

  it('requires one condition at least', () => {
    expect(validateAnalysis({}, 'gates[0]')).toEqual([
      { field: 'gates[0].successCondition', message: 'gates[0].successCondition or failureCondition is required' },
    ]);
  });

  it('fills in the defaults', () => {
    expect(analysisLimits({})).toEqual(ANALYSIS_DEFAULTS);
    expect(analysisLimits({ inconclusiveLimit: 3 })).toEqual({ ...ANALYSIS_DEFAULTS, inconclusiveLimit: 3 });
  });
});
