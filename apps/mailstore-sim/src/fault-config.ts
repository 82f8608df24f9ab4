import { FAULT_ENDPOINTS, FAULT_KINDS, type FaultConfig } from './sim.types';

/**
 * Checking and merging FaultConfig from untrusted JSON (admin API, SIM_FAULTS). Unknown fields are
 * refused: a typo such as "rate503s" would otherwise silently inject nothing and a test would pass
 * for the wrong reason.
 */

export class FaultConfigError extends Error {
  override name = 'FaultConfigError';
}

const RATES = ['rate429', 'rate503', 'rate500', 'rateHang', 'rateDropAfterApply'] as const;
const DURATIONS = ['latencyMs', 'latencyJitterMs', 'hangMs'] as const;
const LISTS = ['notFoundAccounts', 'conflictAccounts'] as const;
const KNOWN = new Set<string>([
  ...RATES,
  ...DURATIONS,
  ...LISTS,
  'retryAfterSeconds',
  'unreachable',
  'endpoints',
  'script',
  'seed',
]);

export function validateFaultConfig(value: unknown): FaultConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FaultConfigError('faults must be a JSON object');
  }
  const input = value as Record<string, unknown>;
  const out: FaultConfig = {};
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) throw new FaultConfigError(`faults.${key} is not a known fault setting`);
  }
  for (const key of RATES) {
    const v = input[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new FaultConfigError(`faults.${key} must be in 0..1`);
    out[key] = v;
  }
  const total = RATES.reduce((sum, key) => sum + (out[key] ?? 0), 0);
  if (total > 1 + 1e-9) throw new FaultConfigError(`the fault rates add up to ${total}, more than 1`);
  for (const key of DURATIONS) {
    const v = input[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      throw new FaultConfigError(`faults.${key} must be a non-negative integer (ms)`);
    }
    out[key] = v as number;
  }
  if (input.retryAfterSeconds !== undefined) {
    const v = input.retryAfterSeconds;
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new FaultConfigError('faults.retryAfterSeconds must be an integer >= 1');
    }
    out.retryAfterSeconds = v as number;
  }
  if (input.unreachable !== undefined) {
    if (typeof input.unreachable !== 'boolean') throw new FaultConfigError('faults.unreachable must be a boolean');
    out.unreachable = input.unreachable;
  }
  for (const key of LISTS) {
    if (input[key] !== undefined) out[key] = stringList(input[key], key);
  }
  if (input.endpoints !== undefined) out.endpoints = oneOfList(input.endpoints, 'endpoints', FAULT_ENDPOINTS);
  if (input.script !== undefined) out.script = oneOfList(input.script, 'script', FAULT_KINDS);
  if (input.seed !== undefined) {
    if (!Number.isSafeInteger(input.seed)) throw new FaultConfigError('faults.seed must be an integer');
    out.seed = input.seed as number;
  }
  return out;
}

/**
 * JSON merge patch (RFC 7396) at the top level: a field given replaces the current one (lists
 * included), a field set to null is removed. The result is validated as a whole.
 */
export function mergeFaultConfig(current: FaultConfig, patch: unknown): FaultConfig {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new FaultConfigError('a faults patch must be a JSON object');
  }
  const merged: Record<string, unknown> = { ...current };
  for (const [key, v] of Object.entries(patch)) {
    if (v === null) delete merged[key];
    else merged[key] = v;
  }
  return validateFaultConfig(merged);
}

function stringList(value: unknown, key: string): string[] {
  const list: unknown[] = Array.isArray(value) ? value : [null];
  const strings = list.filter((v): v is string => typeof v === 'string');
  if (strings.length !== list.length) throw new FaultConfigError(`faults.${key} must be a list of strings`);
  return strings;
}

function oneOfList<T extends string>(value: unknown, key: string, allowed: readonly T[]): T[] {
  const list = stringList(value, key);
  const bad = list.find((v) => !(allowed as readonly string[]).includes(v));
  if (bad !== undefined) throw new FaultConfigError(`faults.${key}: "${bad}" is not one of ${allowed.join(', ')}`);
  return list as T[];
}
