import { FieldError, FieldErrors, isToken } from './validation';

/**
 * Gates: what stops a wave. Built-in metrics come from our own record of mailstore calls; signals are pushed by
 * the security team. Missing data never means "go": a stale signal makes the gate inconclusive, which pauses.
 */

export const GATE_METRICS = ['mailstore_error_rate', 'mailstore_p95_latency_ms', 'signal'] as const;
export type GateMetric = (typeof GATE_METRICS)[number];
export const GATE_ACTIONS = ['pause', 'halt', 'halt_and_rollback'] as const;
export type GateAction = (typeof GATE_ACTIONS)[number];

export interface Gate {
  /** Unique within the wave; appears in status reasons (`gate:<name>`) and the audit log. */
  name: string;
  metric: GateMetric;
  /** Signal name (metric 'signal' only), as pushed to POST /signals. */
  signal?: string;
  /** Cohort the signal is about (metric 'signal' only); absent: the population-wide signal. */
  cohort?: string;
  windowSeconds: number;
  /** Built-in metrics: fewer calls than this in the window is insufficient data. Ignored by signals. */
  minSamples: number;
  /** Error rate as a fraction (0.02 = 2 %), latency in ms, signals in their own unit. Breach is strictly above. */
  threshold: number;
  comparison?: 'above';
  /**
   * Signals only: breach when value > factor × the control cohort's value. `threshold` still applies as an
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
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Field-level errors for a wave's gates, all at once; empty means valid. */
export function validateGates(input: unknown, path = 'gates'): FieldError[] {
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
    errors.integerIn(`${at}.windowSeconds`, g.windowSeconds, 1, MAX_WINDOW_SECONDS);
    errors.integerIn(`${at}.minSamples`, g.minSamples, 0, 1_000_000);
    if (errors.finite(`${at}.threshold`, g.threshold)) {
      if (g.metric === 'mailstore_error_rate' && (g.threshold < 0 || g.threshold > 1)) {
        errors.add(`${at}.threshold`, 'must be between 0 and 1 (a fraction of calls)');
      } else if (g.metric === 'mailstore_p95_latency_ms' && g.threshold <= 0) {
        errors.add(`${at}.threshold`, 'must be greater than 0');
      }
    }
    if (g.comparison !== undefined) errors.oneOf(`${at}.comparison`, g.comparison, ['above'] as const);
    errors.oneOf(`${at}.action`, g.action, GATE_ACTIONS);
    if (isSignal && !isToken(g.signal)) errors.add(`${at}.signal`, 'is required for a signal gate');
    if (g.cohort !== undefined && !isToken(g.cohort)) errors.add(`${at}.cohort`, 'must be a non-empty name');
    if (g.graceSeconds !== undefined) errors.integerIn(`${at}.graceSeconds`, g.graceSeconds, 0, MAX_WINDOW_SECONDS);
    if (g.relativeTo !== undefined) {
      const rel: Partial<NonNullable<Gate['relativeTo']>> =
        typeof g.relativeTo === 'object' ? (g.relativeTo ?? {}) : {};
      if (!isToken(rel.cohort)) errors.add(`${at}.relativeTo.cohort`, 'must be a non-empty name');
      else if (rel.cohort === g.cohort) errors.add(`${at}.relativeTo.cohort`, 'must differ from the gate cohort');
      if (errors.finite(`${at}.relativeTo.factor`, rel.factor) && rel.factor <= 0) {
        errors.add(`${at}.relativeTo.factor`, 'must be greater than 0');
      }
    }
    if (metricOk && !isSignal) {
      // These only make sense for pushed signals: refusing them beats silently ignoring a misconfigured gate.
      for (const key of ['signal', 'cohort', 'relativeTo', 'graceSeconds'] as const) {
        if (g[key] !== undefined) errors.add(`${at}.${key}`, 'is only allowed when metric is signal');
      }
    }
  });
  return errors.errors;
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

export interface GateInput {
  window?: WindowSummary;
  sample?: SignalSample | null;
  /** The control cohort's latest sample, for `relativeTo` gates. */
  control?: SignalSample | null;
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

/** Four significant digits for reasons: 0.035, 2000, 12350 (never 2e+3, never trailing zeros). */
export function formatGateValue(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}
