import { FieldErrors, type FieldError } from './validation';

/**
 * Measured gates (a Prometheus query, issue 19) keep Argo Rollouts' analysis semantics
 * (https://argo-rollouts.readthedocs.io/en/stable/features/analysis/), so an operator who knows an AnalysisTemplate
 * reads ours the same way:
 *
 * - every evaluation is one measurement: `successful`, `failed`, `inconclusive` or `error`;
 * - with both conditions, `failureCondition` true is a failure, else `successCondition` true a success, else
 *   inconclusive; with only `successCondition`, false is a failure; with only `failureCondition`, false is a success;
 * - a query that fails (unreachable, bad answer) is an `error`; here an empty result or NaN is `inconclusive`
 *   (missing data is never "go"), and so is ±Inf unless it fails the conditions as Argo compares it (`+Inf > 20`);
 * - the gate fails once failed measurements exceed `failureLimit` (default 0), is inconclusive once inconclusive ones
 *   exceed `inconclusiveLimit` (default 0), and errs once consecutive errors exceed `consecutiveErrorLimit` (default 4).
 *
 * One deviation: when several limits are exceeded at once, Argo reports the last checked (error over inconclusive
 * over failed); here a failure outranks the others, because the gate's action for it (halt, roll back) is stronger
 * than the pause an inconclusive or erring gate gets. Counts start again when the wave is started or resumed (Argo:
 * a new AnalysisRun).
 */

export const MEASUREMENT_PHASES = ['successful', 'failed', 'inconclusive', 'error'] as const;
export type MeasurementPhase = (typeof MEASUREMENT_PHASES)[number];

export interface AnalysisLimits {
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
}

export const ANALYSIS_DEFAULTS: AnalysisLimits = { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4 };

export interface AnalysisCounts {
  measurements: number;
  successful: number;
  failed: number;
  inconclusive: number;
  errors: number;
  consecutiveErrors: number;
}

export const NO_MEASUREMENTS: AnalysisCounts = {
  measurements: 0,
  successful: 0,
  failed: 0,
  inconclusive: 0,
  errors: 0,
  consecutiveErrors: 0,
};

/**
 * The counts after one more measurement (a non-error measurement ends a run of errors): the rule that
 * GateMeasurementRepository.runs counts in SQL, kept as the unit tests' model of it.
 * @internal
 */
export function countMeasurement(counts: AnalysisCounts, phase: MeasurementPhase): AnalysisCounts {
  const next = { ...counts, measurements: counts.measurements + 1 };
  switch (phase) {
    case 'successful':
      return { ...next, successful: counts.successful + 1, consecutiveErrors: 0 };
    case 'failed':
      return { ...next, failed: counts.failed + 1, consecutiveErrors: 0 };
    case 'inconclusive':
      return { ...next, inconclusive: counts.inconclusive + 1, consecutiveErrors: 0 };
    case 'error':
      return { ...next, errors: counts.errors + 1, consecutiveErrors: counts.consecutiveErrors + 1 };
  }
}

export type AnalysisVerdict = { phase: 'running' } | { phase: 'failed' | 'inconclusive' | 'error'; message: string };

/** Where the analysis stands: still running (the wave goes on), or failed, inconclusive or erring (it stops). */
export function assessAnalysis(counts: AnalysisCounts, limits: AnalysisLimits): AnalysisVerdict {
  if (counts.failed > limits.failureLimit) {
    return { phase: 'failed', message: `failed (${counts.failed}) > failureLimit (${limits.failureLimit})` };
  }
  if (counts.inconclusive > limits.inconclusiveLimit) {
    const message = `inconclusive (${counts.inconclusive}) > inconclusiveLimit (${limits.inconclusiveLimit})`;
    return { phase: 'inconclusive', message };
  }
  if (counts.consecutiveErrors > limits.consecutiveErrorLimit) {
    const message = `consecutiveErrors (${counts.consecutiveErrors}) > consecutiveErrorLimit (${limits.consecutiveErrorLimit})`;
    return { phase: 'error', message };
  }
  return { phase: 'running' };
}

/** What a query gave: one number, nothing, or a failure to ask. */
export type QueryResult = { kind: 'value'; value: number } | { kind: 'empty' } | { kind: 'error'; message: string };

export interface Conditions {
  successCondition?: Condition;
  failureCondition?: Condition;
}

export interface Measurement {
  phase: MeasurementPhase;
  value?: number;
  /** One sentence for progress, the status page and the audit log. */
  reason: string;
}

/** One measurement from one query result, with Argo's reading of the two conditions. */
export function measure(result: QueryResult, conditions: Conditions): Measurement {
  if (result.kind === 'error') return { phase: 'error', reason: `query failed: ${result.message}` };
  if (result.kind === 'empty') return { phase: 'inconclusive', reason: 'the query returned no data' };
  const { value } = result;
  if (Number.isNaN(value)) return { phase: 'inconclusive', value, reason: `the query returned ${value}` };
  if (!Number.isFinite(value)) {
    // ±Inf compares as Argo compares it when that fails the gate (+Inf above a failure threshold); never a success.
    const read = readConditions(value, conditions);
    return read.phase === 'failed' ? read : { phase: 'inconclusive', value, reason: `the query returned ${value}` };
  }
  return readConditions(value, conditions);
}

/** Argo's reading of the two conditions on a number. */
function readConditions(value: number, conditions: Conditions): Measurement {
  const { successCondition: success, failureCondition: failure } = conditions;
  if (failure && holds(failure, value)) return { phase: 'failed', value, reason: `${failure.text} (${value})` };
  if (success) {
    if (holds(success, value)) return { phase: 'successful', value, reason: `${success.text} (${value})` };
    return failure
      ? { phase: 'inconclusive', value, reason: `neither ${success.text} nor ${failure.text} (${value})` }
      : { phase: 'failed', value, reason: `not ${success.text} (${value})` };
  }
  return { phase: 'successful', value, reason: `not ${failure?.text ?? 'failed'} (${value})` };
}

// --- Conditions: `result < 0.05`, `result >= 0.95 && result <= 1`, `result == 0 || result > 10` ---

type Operator = '<=' | '>=' | '==' | '!=' | '<' | '>';

interface Comparison {
  op: Operator;
  value: number;
}

/** A parsed condition: comparisons of `result` with numbers, `&&` binding tighter than `||`. */
export interface Condition {
  text: string;
  /** Disjunction of conjunctions. */
  anyOf: Comparison[][];
}

const MAX_CONDITION_LENGTH = 200;
const COMPARISON = /^result\s*(<=|>=|==|!=|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)$/i;

/**
 * Parses the small language of conditions (a subset of Argo's expressions that a Prometheus gate needs: the query
 * returns one number, `result`). Returns the sentence of what is wrong, or the condition. Written here rather than
 * taken from an expression library: the language is four tokens, and a general evaluator would accept expressions
 * this service cannot explain in a status line.
 */
export function parseCondition(text: string): Condition | string {
  if (text.length > MAX_CONDITION_LENGTH) return `must be at most ${MAX_CONDITION_LENGTH} characters`;
  const anyOf: Comparison[][] = [];
  for (const clause of text.split('||')) {
    const allOf: Comparison[] = [];
    for (const part of clause.split('&&')) {
      const match = COMPARISON.exec(part.trim());
      if (!match) return `must compare result with numbers, e.g. 'result < 0.05' or 'result >= 1 && result < 5'`;
      allOf.push({ op: match[1] as Operator, value: Number(match[2]) });
    }
    anyOf.push(allOf);
  }
  return { text: text.trim().replace(/\s+/g, ' '), anyOf };
}

export function holds(condition: Condition, value: number): boolean {
  return condition.anyOf.some((allOf) => allOf.every((c) => compare(value, c)));
}

function compare(value: number, { op, value: bound }: Comparison): boolean {
  switch (op) {
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
    case '==':
      return value === bound;
    case '!=':
      return value !== bound;
  }
}

/** Field errors of a measured gate's analysis settings (conditions and limits), with `at` as the gate's path. */
export function validateAnalysis(gate: Record<string, unknown>, at: string): FieldError[] {
  const errors = new FieldErrors();
  const conditions = ['successCondition', 'failureCondition'] as const;
  for (const key of conditions) {
    const text = gate[key];
    if (text === undefined) continue;
    if (typeof text !== 'string') errors.add(`${at}.${key}`, 'must be a string');
    else {
      const parsed = parseCondition(text);
      if (typeof parsed === 'string') errors.add(`${at}.${key}`, parsed);
    }
  }
  if (gate.successCondition === undefined && gate.failureCondition === undefined) {
    errors.add(`${at}.successCondition`, 'or failureCondition is required');
  }
  for (const key of ['failureLimit', 'inconclusiveLimit', 'consecutiveErrorLimit'] as const) {
    if (gate[key] !== undefined) errors.integerIn(`${at}.${key}`, gate[key], 0, 1000);
  }
  return errors.errors;
}

/** The limits of a validated gate, defaults filled in. */
export function analysisLimits(gate: Partial<AnalysisLimits>): AnalysisLimits {
  return {
    failureLimit: gate.failureLimit ?? ANALYSIS_DEFAULTS.failureLimit,
    inconclusiveLimit: gate.inconclusiveLimit ?? ANALYSIS_DEFAULTS.inconclusiveLimit,
    consecutiveErrorLimit: gate.consecutiveErrorLimit ?? ANALYSIS_DEFAULTS.consecutiveErrorLimit,
  };
}
