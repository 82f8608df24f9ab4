import { AnalysisVerdict, Measurement, validateAnalysis } from './analysis';
import { failureRatio, failuresPerMinute, LOGIN_BUCKET_SECONDS, LoginWindow } from './login-events';
import { FieldError, FieldErrors, isToken } from './validation';

/**
 * Gates: what stops a wave. Built-in metrics come from our own record of mailstore calls and from the mail server's
 * own login events (failed logins on the accounts this wave opened); signals are pushed by the security team;
 * Prometheus gates run a PromQL query at an interval (Argo Rollouts' analysis semantics, analysis.ts). Missing data
 * never means "go": a stale signal, a silent login-event stream or a query without an answer makes the gate
 * inconclusive, which pauses.
 */

export const GATE_METRICS = [
  'mailstore_error_rate',
  'mailstore_p95_latency_ms',
  'signal',
  'login_failures_per_minute',
  'login_failure_ratio',
  'prometheus',
] as const;
export type GateMetric = (typeof GATE_METRICS)[number];
export const GATE_ACTIONS = ['pause', 'halt', 'halt_and_rollback'] as const;
export type GateAction = (typeof GATE_ACTIONS)[number];

export interface Gate {
  /** Unique within the wave; appears in status reasons (`gate:<name>`) and the audit log. */
  name: string;
  metric: GateMetric;
  /** Signal name (metric 'signal' only), as pushed to POST /signals. */
  signal?: string;
  /**
   * Signals: the cohort the signal is about (absent: the population-wide signal). Login metrics: only the accounts of
   * this cohort among those the wave opened (absent: all of them).
   */
  cohort?: string;
  /** Every metric but prometheus (its query says its own window). Login metrics: a multiple of 10 s. */
  windowSeconds: number;
  /**
   * Mailstore metrics: fewer calls than this in the window is insufficient data; login metrics: fewer logins (failed
   * and successful). Ignored by signals; not for prometheus.
   */
  minSamples: number;
  /**
   * Error rate as a fraction (0.02 = 2 %), latency in ms, failed logins per minute, a failure ratio as a fraction,
   * signals in their own unit. Breach is strictly above. Not for prometheus (its conditions decide).
   */
  threshold: number;
  /**
   * Login metrics: the event stream is dead (inconclusive) when no login event naming a known account has arrived for
   * this long (default 300 s), while the wave runs and logins are expected.
   */
  silenceSeconds?: number;
  /** Prometheus: the PromQL query (one number: a scalar or a one-sample vector), run every `intervalSeconds`. */
  query?: string;
  intervalSeconds?: number;
  /** Prometheus: Argo's conditions over `result` (e.g. `result < 0.05`), at least one; analysis.ts. */
  successCondition?: string;
  failureCondition?: string;
  /** Prometheus: Argo's limits (defaults 0, 0, 4). */
  failureLimit?: number;
  inconclusiveLimit?: number;
  consecutiveErrorLimit?: number;
  comparison?: 'above';
  /**
   * Signals and login metrics: breach when value > factor × the control cohort's value (login metrics: over every
   * account of that cohort, opened by this wave or not). `threshold` still applies as an
   * absolute floor (value must also exceed it), so a quiet control (0 failed logins) cannot make noise a breach;
   * set it to 0 for a purely relative gate.
   */
  relativeTo?: { cohort: string; factor: number };
  /** Signals only: how long past its window a sample stays usable (default windowSeconds). */
  graceSeconds?: number;
  action: GateAction;
}

export const MAX_GATES = 20;
export const MAX_WINDOW_SECONDS = 86_400;
export const DEFAULT_SILENCE_SECONDS = 300;
const MAX_QUERY_LENGTH = 2000;
const LOGIN_METRICS: readonly GateMetric[] = ['login_failures_per_minute', 'login_failure_ratio'];
/** Fields only some metrics take: refusing them elsewhere beats silently ignoring a misconfigured gate. */
const ONLY_FOR: Record<string, readonly GateMetric[]> = {
  signal: ['signal'],
  graceSeconds: ['signal'],
  cohort: ['signal', ...LOGIN_METRICS],
  relativeTo: ['signal', ...LOGIN_METRICS],
  silenceSeconds: LOGIN_METRICS,
  query: ['prometheus'],
  intervalSeconds: ['prometheus'],
  successCondition: ['prometheus'],
  failureCondition: ['prometheus'],
  failureLimit: ['prometheus'],
  inconclusiveLimit: ['prometheus'],
  consecutiveErrorLimit: ['prometheus'],
};
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What the deployment offers the gates: a Prometheus to query (PROMETHEUS_URL), or none. */
export interface GateEnvironment {
  prometheus: boolean;
}

/** Field-level errors for a wave's gates, all at once; empty means valid. */
export function validateGates(
  input: unknown,
  path = 'gates',
  environment: GateEnvironment = { prometheus: true },
): FieldError[] {
  const errors = new FieldErrors();
  if (!Array.isArray(input)) {
    errors.add(path, 'must be an array');
    return errors.errors;
  }
  // Validators see API bodies: read each gate as a partial one and check every field.
  const gates = (input as readonly unknown[]).map((gate): Partial<Gate> =>
    typeof gate === 'object' && gate !== null ? (gate as Partial<Gate>) : {},
  );
  if (gates.length > MAX_GATES) errors.add(path, `must have at most ${MAX_GATES} gates`);
  const seen = new Set<string>();
  gates.forEach((g, i) => {
    const at = `${path}[${i}]`;
    if (typeof g.name !== 'string' || !NAME.test(g.name)) {
      errors.add(`${at}.name`, 'must be 1–64 letters, digits, _ . - (starting with a letter or digit)');
    } else if (seen.has(g.name)) errors.add(`${at}.name`, `must be unique (${g.name} is used twice)`);
    else seen.add(g.name);
    const metricOk = errors.oneOf(`${at}.metric`, g.metric, GATE_METRICS);
    const isSignal = g.metric === 'signal';
    if (g.metric === 'prometheus') {
      if (!environment.prometheus) errors.add(`${at}.metric`, 'prometheus needs PROMETHEUS_URL set on the service');
      for (const e of validatePrometheusGate(g, at)) errors.errors.push(e);
    } else {
      validateThresholdGate(g, at, errors);
    }
    if (g.comparison !== undefined) errors.oneOf(`${at}.comparison`, g.comparison, ['above'] as const);
    errors.oneOf(`${at}.action`, g.action, GATE_ACTIONS);
    if (isSignal && !isToken(g.signal)) errors.add(`${at}.signal`, 'is required for a signal gate');
    if (g.cohort !== undefined && !isToken(g.cohort)) errors.add(`${at}.cohort`, 'must be a non-empty name');
    if (g.graceSeconds !== undefined) errors.integerIn(`${at}.graceSeconds`, g.graceSeconds, 0, MAX_WINDOW_SECONDS);
    if (g.silenceSeconds !== undefined) {
      errors.integerIn(`${at}.silenceSeconds`, g.silenceSeconds, LOGIN_BUCKET_SECONDS, MAX_WINDOW_SECONDS);
    }
    if (g.relativeTo !== undefined) validateRelativeTo(g, at, errors);
    if (metricOk) {
      for (const [key, metrics] of Object.entries(ONLY_FOR)) {
        if (g[key as keyof Gate] !== undefined && !metrics.includes(g.metric!)) {
          errors.add(`${at}.${key}`, `is only allowed when metric is ${metrics.join(' or ')}`);
        }
      }
    }
  });
  return errors.errors;
}

function validateThresholdGate(g: Partial<Gate>, at: string, errors: FieldErrors): void {
  const windowOk = errors.integerIn(`${at}.windowSeconds`, g.windowSeconds, 1, MAX_WINDOW_SECONDS);
  if (windowOk && LOGIN_METRICS.includes(g.metric!) && g.windowSeconds! % LOGIN_BUCKET_SECONDS !== 0) {
    errors.add(`${at}.windowSeconds`, `must be a multiple of ${LOGIN_BUCKET_SECONDS} for a login metric`);
  }
  errors.integerIn(`${at}.minSamples`, g.minSamples, 0, 1_000_000);
  if (errors.finite(`${at}.threshold`, g.threshold)) {
    if (g.metric === 'mailstore_error_rate' && (g.threshold < 0 || g.threshold > 1)) {
      errors.add(`${at}.threshold`, 'must be between 0 and 1 (a fraction of calls)');
    } else if (g.metric === 'mailstore_p95_latency_ms' && g.threshold <= 0) {
      errors.add(`${at}.threshold`, 'must be greater than 0');
    } else if (g.metric === 'login_failure_ratio' && (g.threshold < 0 || g.threshold > 1)) {
      errors.add(`${at}.threshold`, 'must be between 0 and 1 (a fraction of logins)');
    }
  }
}

function validateRelativeTo(g: Partial<Gate>, at: string, errors: FieldErrors): void {
  const rel: Partial<NonNullable<Gate['relativeTo']>> = typeof g.relativeTo === 'object' ? (g.relativeTo ?? {}) : {};
  if (!isToken(rel.cohort)) errors.add(`${at}.relativeTo.cohort`, 'must be a non-empty name');
  else if (rel.cohort === g.cohort) errors.add(`${at}.relativeTo.cohort`, 'must differ from the gate cohort');
  if (errors.finite(`${at}.relativeTo.factor`, rel.factor) && rel.factor <= 0) {
    errors.add(`${at}.relativeTo.factor`, 'must be greater than 0');
  }
}

/** A query, an interval, Argo's conditions and limits; no window, samples or threshold (the conditions decide). */
function validatePrometheusGate(g: Partial<Gate>, at: string): FieldError[] {
  const errors = new FieldErrors();
  if (typeof g.query !== 'string' || g.query.trim() === '' || g.query.length > MAX_QUERY_LENGTH) {
    errors.add(
      `${at}.query`,
      `is required for a prometheus gate: a PromQL query of at most ${MAX_QUERY_LENGTH} characters`,
    );
  }
  errors.integerIn(`${at}.intervalSeconds`, g.intervalSeconds, 1, 3600);
  for (const key of ['windowSeconds', 'minSamples', 'threshold'] as const) {
    if (g[key] !== undefined)
      errors.add(`${at}.${key}`, 'is not for a prometheus gate (its query and conditions decide)');
  }
  return [...errors.errors, ...validateAnalysis(g, at)];
}

/** Our record of mailstore calls in the gate's window. */
export interface WindowSummary {
  calls: number;
  errors: number;
  p95LatencyMs: number | null;
}

/** The latest pushed value of a signal for one cohort. */
export interface SignalSample {
  value: number;
  observedAt: Date;
  windowSeconds: number;
}

/** Login metrics: the counts over the gate's window, the control cohort's, and when the stream last spoke. */
export interface LoginInput {
  window: LoginWindow;
  /** `relativeTo` gates: every account of the control cohort, over the same window. */
  control?: LoginWindow;
  /** The newest login event any process received (null: none ever). */
  lastEventAt: Date | null;
}

/** Prometheus gates: the newest measurement, and where the analysis stands (analysis.ts). */
export interface AnalysisInput {
  last: Measurement | null;
  verdict: AnalysisVerdict;
}

export interface GateInput {
  window?: WindowSummary;
  sample?: SignalSample | null;
  /** The control cohort's latest sample, for `relativeTo` gates. */
  control?: SignalSample | null;
  logins?: LoginInput;
  analysis?: AnalysisInput;
}

export type GateStatus = 'ok' | 'breached' | 'insufficient_data' | 'inconclusive';

export interface GateResult {
  gate: string;
  action: GateAction;
  status: GateStatus;
  value?: number;
  threshold: number;
  control?: number;
  /** One sentence for dashboards and the audit log. */
  reason: string;
}

export function evaluateGate(gate: Gate, input: GateInput, now: Date): GateResult {
  const base = { gate: gate.name, action: gate.action, threshold: gate.threshold };
  if (gate.metric === 'signal') return evaluateSignal(gate, input, now, base);
  if (gate.metric === 'login_failures_per_minute' || gate.metric === 'login_failure_ratio') {
    return evaluateLogins(gate, input.logins, now, base);
  }
  if (gate.metric === 'prometheus') return evaluateAnalysis(input.analysis, base);
  const calls = input.window?.calls ?? 0;
  if (calls === 0 || calls < gate.minSamples) {
    const reason = `${calls} calls in the last ${gate.windowSeconds} s, fewer than the ${Math.max(1, gate.minSamples)} needed`;
    return { ...base, status: 'insufficient_data', reason };
  }
  const errorRate = gate.metric === 'mailstore_error_rate';
  const value = errorRate ? (input.window?.errors ?? 0) / calls : input.window?.p95LatencyMs;
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return { ...base, status: 'insufficient_data', reason: `no latency measured over ${calls} calls` };
  }
  const what = errorRate ? `error rate ${formatGateValue(value)} over ${calls} calls` : `p95 latency ${value} ms`;
  return value > gate.threshold
    ? { ...base, status: 'breached', value, reason: `${what} is above ${gate.threshold}` }
    : { ...base, status: 'ok', value, reason: `${what} is within ${gate.threshold}` };
}

function evaluateSignal(
  gate: Gate,
  input: GateInput,
  now: Date,
  base: Omit<GateResult, 'status' | 'reason'>,
): GateResult {
  const horizonMs = now.getTime() - (gate.windowSeconds + (gate.graceSeconds ?? gate.windowSeconds)) * 1000;
  // Strictly newer than the horizon; NaN is bad data, and bad data is no data.
  const fresh = (s: SignalSample | null | undefined): s is SignalSample =>
    s != null && Number.isFinite(s.value) && s.observedAt.getTime() > horizonMs;
  const label = `${gate.signal ?? '?'}${gate.cohort ? ` for ${gate.cohort}` : ''}`;
  const since = new Date(horizonMs).toISOString();
  if (!fresh(input.sample)) {
    return { ...base, status: 'inconclusive', reason: `no ${label} sample since ${since}` };
  }
  const value = input.sample.value;
  if (gate.relativeTo === undefined) {
    return value > gate.threshold
      ? { ...base, status: 'breached', value, reason: `${label} ${value} is above ${gate.threshold}` }
      : { ...base, status: 'ok', value, reason: `${label} ${value} is within ${gate.threshold}` };
  }
  const { cohort, factor } = gate.relativeTo;
  if (!fresh(input.control)) {
    return {
      ...base,
      status: 'inconclusive',
      value,
      reason: `no control sample for ${cohort} since ${since}`,
    };
  }
  const control = input.control.value;
  const limit = Math.max(gate.threshold, factor * control);
  const compared = `${label} ${value} vs ${factor} × ${control} (${cohort}), floor ${gate.threshold}`;
  return value > gate.threshold && value > factor * control
    ? { ...base, status: 'breached', value, control, reason: `${compared}: above ${formatGateValue(limit)}` }
    : { ...base, status: 'ok', value, control, reason: `${compared}: within ${formatGateValue(limit)}` };
}

type Base = Omit<GateResult, 'status' | 'reason'>;

/** The login metric's value over a window; null when there were too few logins to say. */
function loginValue(gate: Gate, w: LoginWindow): number | null {
  if (gate.metric === 'login_failures_per_minute') return failuresPerMinute(w);
  return failureRatio(w);
}

function evaluateLogins(gate: Gate, input: LoginInput | undefined, now: Date, base: Base): GateResult {
  const silence = gate.silenceSeconds ?? DEFAULT_SILENCE_SECONDS;
  const last = input?.lastEventAt ?? null;
  if (!input || last === null || last.getTime() < now.getTime() - silence * 1000) {
    const since = last ? `since ${last.toISOString()}` : 'ever';
    return {
      ...base,
      status: 'inconclusive',
      reason: `no login event for a known account from the mail server ${since} (silence limit ${silence} s)`,
    };
  }
  const w = input.window;
  const logins = w.failed + w.succeeded;
  const scope = gate.cohort ? `${gate.cohort} accounts this wave opened` : 'accounts this wave opened';
  if (logins === 0 || logins < gate.minSamples) {
    const reason = `${logins} logins on ${scope} in the last ${gate.windowSeconds} s, fewer than the ${Math.max(1, gate.minSamples)} needed`;
    return { ...base, status: 'insufficient_data', reason };
  }
  const value = loginValue(gate, w)!;
  const label =
    gate.metric === 'login_failures_per_minute'
      ? `${formatGateValue(value)} failed logins/min on ${scope}`
      : `failure ratio ${formatGateValue(value)} (${w.failed} of ${logins} logins) on ${scope}`;
  if (gate.relativeTo === undefined) {
    return value > gate.threshold
      ? { ...base, status: 'breached', value, reason: `${label} is above ${gate.threshold}` }
      : { ...base, status: 'ok', value, reason: `${label} is within ${gate.threshold}` };
  }
  const { cohort, factor } = gate.relativeTo;
  // A control cohort without a login in the window is quiet (the stream is alive): its value is 0.
  const control = input.control ? (loginValue(gate, input.control) ?? 0) : 0;
  const limit = Math.max(gate.threshold, factor * control);
  const compared = `${label} vs ${factor} × ${formatGateValue(control)} (${cohort}), floor ${gate.threshold}`;
  return value > gate.threshold && value > factor * control
    ? { ...base, status: 'breached', value, control, reason: `${compared}: above ${formatGateValue(limit)}` }
    : { ...base, status: 'ok', value, control, reason: `${compared}: within ${formatGateValue(limit)}` };
}

/** A Prometheus gate as its analysis stands: failed is a breach, inconclusive or erring pauses. */
function evaluateAnalysis(input: AnalysisInput | undefined, base: Base): GateResult {
  const last = input?.last ?? null;
  const value = last?.value !== undefined && Number.isFinite(last.value) ? { value: last.value } : {};
  const verdict = input?.verdict ?? { phase: 'running' };
  if (verdict.phase === 'failed') {
    return { ...base, ...value, status: 'breached', reason: `${verdict.message}; last: ${last?.reason ?? '?'}` };
  }
  if (verdict.phase !== 'running') {
    return { ...base, ...value, status: 'inconclusive', reason: `${verdict.message}; last: ${last?.reason ?? '?'}` };
  }
  if (!last) return { ...base, status: 'insufficient_data', reason: 'no measurement yet' };
  // Within the limits the wave goes on; only a successful measurement is called ok.
  if (last.phase === 'successful') return { ...base, ...value, status: 'ok', reason: last.reason };
  return { ...base, ...value, status: 'insufficient_data', reason: `${last.phase}, within the limits: ${last.reason}` };
}

/**
 * A prometheus gate's trial query in a check (GET /waves/{id}/gate-check, `reopen preflight`): one measurement taken
 * now, recorded nowhere. A run's analysis tolerates errors and empty answers up to its limits; a check flags any answer
 * that is not a number meeting the conditions as inconclusive, since the night before is when a query gets fixed.
 */
export function checkMeasurement(gate: Gate, measurement: Measurement): GateResult {
  const value =
    measurement.value !== undefined && Number.isFinite(measurement.value) ? { value: measurement.value } : {};
  const status =
    measurement.phase === 'successful' ? 'ok' : measurement.phase === 'failed' ? 'breached' : 'inconclusive';
  return {
    gate: gate.name,
    action: gate.action,
    threshold: gate.threshold,
    ...value,
    status,
    reason: `trial query: ${measurement.reason}`,
  };
}

/** Four significant digits for reasons: 0.035, 2000, 12350 (never 2e+3, never trailing zeros). */
export function formatGateValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}
