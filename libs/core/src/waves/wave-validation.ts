import {
  FieldErrors,
  GateEnvironment,
  isProtocol,
  resolveStart,
  validateGates,
  validateReclose,
  validateSteps,
  validateTimeWindows,
  validateWavePolicy,
} from '@app/domain';
import { ValidationError } from '../errors';
import { CreateWaveInput, UpdateWaveInput, WAVE_LIMITS } from './wave.types';

const LOGIN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Field-level checks shared by create and update; throws one ValidationError naming every bad field. */
export function validateWaveInput(
  input: CreateWaveInput | UpdateWaveInput,
  creating: boolean,
  gates: GateEnvironment = { prometheus: true },
): { startAt: Date | null } {
  const f = new FieldErrors();
  if (creating || input.name !== undefined) {
    if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200) {
      f.add('name', 'must be a non-empty string of at most 200 characters');
    }
  }
  if ('selector' in input) validateSelector(f, input.selector);
  if ('protocols' in input) {
    const p = input.protocols as unknown;
    if (!Array.isArray(p) || p.length === 0 || p.length > 2 || !p.every(isProtocol) || new Set(p).size !== p.length) {
      f.add('protocols', "must be a non-empty list of distinct 'imap', 'pop3'");
    }
  }
  const rate = (name: 'ratePerSecond' | 'rollbackRatePerSecond', required: boolean) => {
    const v = input[name];
    if (v === undefined) {
      if (required) f.add(name, 'is required');
      return;
    }
    if (f.finite(name, v) && (v < WAVE_LIMITS.minRate || v > WAVE_LIMITS.maxRate))
      f.add(name, `must be ≥ ${WAVE_LIMITS.minRate} and ≤ ${WAVE_LIMITS.maxRate} accounts per second`);
  };
  rate('ratePerSecond', creating);
  rate('rollbackRatePerSecond', false);
  if (input.batchSize !== undefined) f.integerIn('batchSize', input.batchSize, 1, WAVE_LIMITS.maxBatchSize);
  if (input.concurrency !== undefined) f.integerIn('concurrency', input.concurrency, 1, WAVE_LIMITS.maxConcurrency);
  if (input.steps !== undefined) for (const e of validateSteps(input.steps)) f.errors.push(e);
  if (input.gates !== undefined) for (const e of validateGates(input.gates, 'gates', gates)) f.errors.push(e);
  for (const e of validateReclose(input.reclose)) f.errors.push(e);
  for (const e of validateTimeWindows(input.windows)) f.errors.push(e);
  validateWavePolicy(f, 'approvalPolicy', input.approvalPolicy);

  let startAt: Date | null = null;
  if (input.startLocal !== undefined || input.timeZone !== undefined) {
    if (typeof input.startLocal !== 'string') f.add('startLocal', 'is required with timeZone (e.g. 2026-05-09T08:00)');
    else if (typeof input.timeZone !== 'string') f.add('timeZone', 'is required with startLocal (e.g. Europe/Paris)');
    else {
      const r = resolveStart(input.startLocal, input.timeZone);
      if (r.ok) startAt = r.instant;
      else f.add(r.code === 'invalid_time_zone' ? 'timeZone' : 'startLocal', `is invalid: ${r.message}`);
    }
  }
  if (f.errors.length) throw new ValidationError(f.errors);
  return { startAt };
}

function validateSelector(f: FieldErrors, selector: unknown): void {
  if (typeof selector !== 'object' || selector === null) {
    f.add('selector', "must be {type:'cohorts',cohorts:[…]}, {type:'logins',logins:[…]} or {type:'remaining'}");
    return;
  }
  const s = selector as { type?: unknown; cohorts?: unknown; logins?: unknown };
  if (!f.oneOf('selector.type', s.type, ['cohorts', 'logins', 'remaining'] as const)) return;
  if (s.type === 'cohorts') {
    const c = s.cohorts;
    if (
      !Array.isArray(c) ||
      c.length === 0 ||
      c.length > 50 ||
      !c.every((x) => typeof x === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(x))
    ) {
      f.add('selector.cohorts', 'must be 1–50 cohort names of [a-z0-9_-]');
    }
  }
  if (s.type === 'logins') {
    const l = s.logins;
    if (!Array.isArray(l) || l.length === 0 || l.length > WAVE_LIMITS.maxLogins) {
      f.add('selector.logins', `must be a list of 1–${WAVE_LIMITS.maxLogins} logins`);
    } else {
      const bad = l.findIndex((x) => typeof x !== 'string' || !LOGIN.test(x));
      if (bad >= 0) f.add(`selector.logins[${bad}]`, 'must be an e-mail address');
    }
  }
}
