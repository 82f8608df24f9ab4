import { FieldError, FieldErrors } from './validation';

/**
 * Ramp steps: "1 % then bake 30 min, 10 %, 100 %". Percentages are cumulative shares of the wave's frozen
 * membership, turned into member-sequence limits once, so every worker and every restart agrees on where a
 * step ends (stored as `waves.step_limit_seq`).
 */

export interface RampStep {
  /** Cumulative share of the membership, 0 < percent <= 100, at most two decimals (0.01 % resolution). */
  percent: number;
  /** Pause after this step before the next one starts; must be 0 on the last step (nothing follows it). */
  bakeSeconds: number;
}

export const MAX_STEPS = 20;
/** A week: a longer bake is a forgotten wave, not a ramp. */
export const MAX_BAKE_SECONDS = 7 * 86_400;
const IMPLICIT_STEPS: readonly RampStep[] = [{ percent: 100, bakeSeconds: 0 }];

/** Field-level errors, all of them at once; an empty list means valid. */
export function validateSteps(input: unknown, path = 'steps'): FieldError[] {
  const errors = new FieldErrors();
  if (!Array.isArray(input)) {
    errors.add(path, 'must be an array');
    return errors.errors;
  }
  // Validators see API bodies: every field is unknown until checked.
  const steps = (input as readonly unknown[]).map(
    (step) => (typeof step === 'object' && step !== null ? step : {}) as Partial<Record<keyof RampStep, unknown>>,
  );
  if (steps.length > MAX_STEPS) errors.add(path, `must have at most ${MAX_STEPS} steps`);
  steps.forEach((step, i) => {
    const at = `${path}[${i}]`;
    const isLast = i === steps.length - 1;
    const { percent, bakeSeconds } = step;
    const previous = i > 0 ? steps[i - 1].percent : undefined;
    if (!errors.finite(`${at}.percent`, percent)) {
      // reported
    } else if (percent <= 0 || percent > 100) errors.add(`${at}.percent`, 'must be greater than 0 and at most 100');
    else if (!hasAtMostTwoDecimals(percent)) errors.add(`${at}.percent`, 'must have at most two decimals');
    else if (typeof previous === 'number' && percent <= previous) {
      errors.add(`${at}.percent`, `must be greater than ${previous}`);
    } else if (isLast && percent !== 100) errors.add(`${at}.percent`, 'must be 100 on the last step');
    if (errors.integerIn(`${at}.bakeSeconds`, bakeSeconds, 0, MAX_BAKE_SECONDS) && isLast && bakeSeconds !== 0) {
      errors.add(`${at}.bakeSeconds`, 'must be 0 on the last step (nothing follows it)');
    }
  });
  return errors.errors;
}

/**
 * Two decimals up to float noise (0.29 * 100 is 28.999999999999996), and at least 0.01: with an absolute tolerance
 * alone, any percent under 1e-8 passed as "two decimals" although it rounds to 0.00.
 */
function hasAtMostTwoDecimals(percent: number): boolean {
  const hundredths = Math.round(percent * 100);
  return hundredths >= 1 && Math.abs(percent * 100 - hundredths) < 1e-6;
}

/** No steps means one implicit step of 100 % without bake. Assumes valid steps. */
export function normalizeSteps(steps: readonly RampStep[]): readonly RampStep[] {
  return steps.length === 0 ? IMPLICIT_STEPS : steps;
}

/**
 * Cumulative member counts at the end of each step. Integer arithmetic on basis points (no float surprises such
 * as 1000 × 1.1 % = 11.000000000000002 → 12), rounded up, and at least one more member than the previous step
 * while members remain, so a 0.01 % canary on 50 accounts still opens one. The last limit is memberCount.
 */
export function stepLimits(memberCount: number, steps: readonly RampStep[]): number[] {
  if (!Number.isInteger(memberCount) || memberCount < 0) {
    throw new RangeError(`memberCount must be a non-negative integer, got ${memberCount}`);
  }
  const limits: number[] = [];
  let previous = 0;
  for (const step of normalizeSteps(steps)) {
    const basisPoints = Math.round(step.percent * 100);
    const share = Math.floor((memberCount * basisPoints + 9_999) / 10_000);
    const limit = Math.min(memberCount, Math.max(share, previous + 1));
    limits.push(limit);
    previous = limit;
  }
  return limits;
}

/** Number of batches the wave will send: per step, since batches never cross a step boundary. */
export function batchCount(memberCount: number, batchSize: number, steps: readonly RampStep[]): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be ≥ 1, got ${batchSize}`);
  let previous = 0;
  let batches = 0;
  for (const limit of stepLimits(memberCount, steps)) {
    batches += Math.ceil((limit - previous) / batchSize);
    previous = limit;
  }
  return batches;
}

/** Total bake time the wave will actually spend: bakes before empty steps do not happen. */
export function totalBakeSeconds(memberCount: number, steps: readonly RampStep[]): number {
  const normalized = normalizeSteps(steps);
  const limits = stepLimits(memberCount, normalized);
  return limits.reduce((sum, limit, i) => (limit < memberCount ? sum + normalized[i].bakeSeconds : sum), 0);
}
