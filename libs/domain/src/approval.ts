import { createHash } from 'node:crypto';
import { FieldErrors } from './validation';

/*
 * Two-person approval (issue 20), pure: which commands need a second ops key under a policy, the canonical form of a
 * wave's plan and the hash an approval is bound to, the field-by-field diff between two plans, and whether a stored
 * approval still holds. libs/core/src/approvals carries it out; approval.spec.ts checks every rule.
 */

/**
 * The commands a policy may put behind a second ops key. `start` covers starting now and scheduling (both commit to
 * the plan); `raise_rate` an update whose rate goes above the policy's bound (and a start or schedule at such a rate).
 */
export const APPROVAL_RULES = ['start', 'resume_after_halt', 'rollback', 'raise_rate', 'support_override'] as const;
export type ApprovalRule = (typeof APPROVAL_RULES)[number];

/** What a command asking for an approval is: the wave commands, an update, a support override. */
export const APPROVAL_COMMANDS = ['schedule', 'start', 'resume', 'rollback', 'update', 'support_override'] as const;
export type ApprovalCommand = (typeof APPROVAL_COMMANDS)[number];

export interface ApprovalPolicy {
  /** The rules in force, sorted, without duplicates. */
  require: ApprovalRule[];
  /** `raise_rate`: the highest rate (accounts/s) one ops key may set alone; null with no bound (the rule is idle). */
  rateBound: number | null;
}

/** Parses the deployment's list (`APPROVAL_REQUIRED_FOR=start,rollback`); returns the unknown names as errors. */
export function parseApprovalRules(text: string): { rules: ApprovalRule[]; unknown: string[] } {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.filter((n) => !(APPROVAL_RULES as readonly string[]).includes(n));
  const rules = names.filter((n): n is ApprovalRule => (APPROVAL_RULES as readonly string[]).includes(n));
  return { rules: sortedRules(rules), unknown };
}

function sortedRules(rules: readonly ApprovalRule[]): ApprovalRule[] {
  return APPROVAL_RULES.filter((r) => rules.includes(r));
}

/**
 * The policy a wave is under: the deployment's, tightened by the wave's own (never loosened: one ops key cannot write
 * a wave that escapes the deployment's rules). Rules are the union; the rate bound the lower of the two.
 */
export function effectivePolicy(deployment: ApprovalPolicy, wave: Partial<ApprovalPolicy> | null): ApprovalPolicy {
  const bounds = [deployment.rateBound, wave?.rateBound ?? null].filter((b): b is number => b !== null);
  return {
    require: sortedRules([...deployment.require, ...(wave?.require ?? [])]),
    rateBound: bounds.length ? Math.min(...bounds) : null,
  };
}

/**
 * Whether `next` (a wave's own policy after an update) loosens `current`: a rule dropped or a bound raised or removed.
 * Refused by the update: a wave's policy only ever tightens.
 */
export function loosens(current: Partial<ApprovalPolicy> | null, next: Partial<ApprovalPolicy> | null): boolean {
  const now = current?.require ?? [];
  const then = next?.require ?? [];
  if (now.some((r) => !then.includes(r))) return true;
  const bound = current?.rateBound ?? null;
  const nextBound = next?.rateBound ?? null;
  return bound !== null && (nextBound === null || nextBound > bound);
}

/** Checks a wave's own policy as given in a create or update (`field` its name in the body). */
export function validateWavePolicy(f: FieldErrors, field: string, value: unknown): void {
  if (value === null || value === undefined) return;
  if (typeof value !== 'object' || Array.isArray(value)) {
    f.add(field, 'must be an object {require, rateBound}');
    return;
  }
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (key !== 'require' && key !== 'rateBound') f.add(`${field}.${key}`, 'is not a policy field');
  }
  if (v.require !== undefined) {
    if (!Array.isArray(v.require)) f.add(`${field}.require`, 'must be an array');
    else v.require.forEach((r, i) => f.oneOf(`${field}.require[${i}]`, r, APPROVAL_RULES));
  }
  if (v.rateBound !== undefined && v.rateBound !== null) {
    if (f.finite(`${field}.rateBound`, v.rateBound) && v.rateBound <= 0) {
      f.add(`${field}.rateBound`, 'must be > 0');
    }
  }
}

/** A wave's own policy as stored: sorted rules, a bound or null. */
export function normalizeWavePolicy(value: Partial<ApprovalPolicy> | null | undefined): ApprovalPolicy | null {
  if (!value) return null;
  return { require: sortedRules(value.require ?? []), rateBound: value.rateBound ?? null };
}

/** A command as the approval rules see it, with what of the wave decides. */
export type ApprovalAction =
  | { command: 'schedule' | 'start'; ratePerSecond: number }
  | { command: 'resume'; state: string }
  | { command: 'rollback' }
  | { command: 'update'; currentRate: number; newRate: number | undefined; state: string; weakensGuards: boolean }
  | { command: 'support_override' };

/** The rule that puts this command behind a second key under `policy`, or null when one ops key is enough. */
export function approvalRuleFor(policy: ApprovalPolicy, action: ApprovalAction): ApprovalRule | null {
  const has = (r: ApprovalRule) => policy.require.includes(r);
  const aboveBound = (rate: number) => has('raise_rate') && policy.rateBound !== null && rate > policy.rateBound;
  switch (action.command) {
    case 'schedule':
    case 'start':
      if (has('start')) return 'start';
      return aboveBound(action.ratePerSecond) ? 'raise_rate' : null;
    case 'resume':
      return action.state === 'halted' && has('resume_after_halt') ? 'resume_after_halt' : null;
    case 'rollback':
      return has('rollback') ? 'rollback' : null;
    case 'update':
      // A scheduled wave starts by itself on the plan approved at its schedule: changing it is approving it again.
      if (action.state === 'scheduled' && has('start')) return 'start';
      // Started on an approved plan: taking away one of its guards (weakensGuards) is changing what was approved.
      if (action.state !== 'draft' && action.weakensGuards && has('start')) return 'start';
      return action.newRate !== undefined && action.newRate > action.currentRate && aboveBound(action.newRate)
        ? 'raise_rate'
        : null;
    case 'support_override':
      return has('support_override') ? 'support_override' : null;
  }
}

/**
 * Whether an update takes away a guard of the wave's plan: a gate removed or changed (its threshold, action, window:
 * any field), or the per-account reaction (`reclose`) removed or changed. Adding a gate, the others kept as they are,
 * does not: it can only stop the wave sooner. Compared as canonical JSON (stored JSONB reorders keys).
 */
export function weakensGuards(
  current: { gates: readonly unknown[]; reclose: unknown },
  update: { gates?: readonly unknown[]; reclose?: unknown },
): boolean {
  const canonical = (v: unknown) => JSON.stringify(sortKeys(v));
  if (update.gates !== undefined) {
    const kept = new Set(update.gates.map(canonical));
    if (current.gates.some((g) => !kept.has(canonical(g)))) return true;
  }
  const reclose = current.reclose ?? null;
  return update.reclose !== undefined && reclose !== null && canonical(update.reclose) !== canonical(reclose);
}

/**
 * The columns of `waves` that are the wave's state as it runs, not its plan: everything else of the stored row is the
 * plan, so a column added later (time windows, say) is bound by approvals without touching this file. A new column
 * that the engine writes as the wave runs belongs here.
 */
export const WAVE_RUNTIME_COLUMNS = [
  'state',
  'status_reason',
  'status_detail',
  'current_step',
  'step_limit_seq',
  'bake_until',
  'member_count',
  'membership_frozen_at',
  'schedule_fired_at',
  'schedule_lateness_ms',
  'started_at',
  'completed_at',
  'rollback_started_at',
  'rollback_completed_at',
  'gate_state',
  'gate_evaluated_at',
  'verification',
  'verify_due_at',
  'generation',
  'version',
  'created_at',
  'updated_at',
  'created_by',
  // What a schedule was approved on (the fire's re-check): written by the schedule itself, never part of a plan.
  'schedule_approval',
] as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A JSON value with every object's keys sorted (arrays keep their order: a ramp's steps are ordered). */
function sortKeys(value: unknown): Json {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  if (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean') return value;
  throw new TypeError(`not a JSON value: ${typeof value}`);
}

/** The canonical JSON text of a value: sorted keys, no whitespace (the hash's input). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export type CanonicalPlan = Record<string, Json>;

/**
 * A wave's plan in canonical form, from its stored row as `to_jsonb(waves)` gives it: every column but the runtime
 * ones, keys sorted, timestamps as ISO strings.
 */
export function canonicalPlan(row: Record<string, unknown>): CanonicalPlan {
  const runtime = new Set<string>(WAVE_RUNTIME_COLUMNS);
  const plan = Object.fromEntries(Object.entries(row).filter(([k]) => !runtime.has(k)));
  return sortKeys(plan) as CanonicalPlan;
}

/** What the preview counted, as an approval binds it: eligible and held back by reason. */
export interface ApprovalCounts {
  /** `selector`: a start's scope now; `members`: a frozen membership's size (its pending counts move as it runs). */
  scope: 'selector' | 'members';
  eligible: number;
  /**
   * `selector` only: who is eligible, as a digest of their accounts (16 hex digits): the same counts over other
   * accounts (one leaked, another reset) are not what was approved. Absent from approvals stored before it existed.
   */
  eligibleDigest?: string;
  heldBack: Record<string, number>;
}

/** Everything an approval is bound to. */
export interface ApprovalSubject {
  waveId: string | null;
  command: ApprovalCommand;
  /** The command's own input (an update's new rate, an override's account). */
  args: Record<string, unknown>;
  plan: CanonicalPlan | null;
  counts: ApprovalCounts | null;
}

/** SHA-256 of the subject's canonical JSON, hex. */
export function approvalHash(subject: ApprovalSubject): string {
  return createHash('sha256').update(canonicalJson(subject)).digest('hex');
}

export interface FieldChange {
  /** Dotted path (`rate_per_second`, `gates[0].threshold`, `counts.heldBack.held`). */
  field: string;
  before: Json | undefined;
  after: Json | undefined;
}

/**
 * The differences between two JSON values, field by field: objects by key (a key on one side only is a change to or
 * from undefined), arrays by index when both are arrays, anything else compared whole.
 */
export function diffJson(before: unknown, after: unknown, path = ''): FieldChange[] {
  const a = sortKeys(before);
  const b = sortKeys(after);
  return diffSorted(a, b, path);
}

function diffSorted(a: Json | undefined, b: Json | undefined, path: string): FieldChange[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffSorted(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    return Array.from({ length: n }, (_, i) => diffSorted(a[i], b[i], `${path}[${i}]`)).flat();
  }
  const same = a === undefined || b === undefined ? a === b : canonicalJson(a) === canonicalJson(b);
  if (same) return [];
  return [{ field: path || '.', before: a, after: b }];
}

function isObject(v: Json | undefined): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'executed', 'invalidated', 'expired'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** A stored approval as the rules read it. */
export interface ApprovalRecord {
  state: ApprovalState;
  hash: string;
  /** The requester's key (its id, or the actor when it came without one). */
  requestedBy: string;
  /** The requester's audit actor (`ops:alice`, `support:carol`): its key's name is the person. */
  requestedActor: string;
  expiresAt: Date;
}

/**
 * Whether two audit actors (`<role>:<key name>`) name the same person: the key's name, whatever its role, trimmed,
 * case aside. The audit log records the names, so an approval between two keys of one name proves no second person.
 */
function samePerson(a: string, b: string): boolean {
  const name = (actor: string) =>
    actor
      .slice(actor.indexOf(':') + 1)
      .trim()
      .toLowerCase();
  return name(a) === name(b);
}

/** Why an approval cannot be given or used now. */
export type ApprovalRefusal =
  'not_pending' | 'not_approved' | 'expired' | 'plan_changed' | 'self_approval' | 'wrong_role';

/** Whether `approver` (a key id, its role and audit actor) may approve `record` now, the subject hashing to `currentHash`. */
export function canApprove(
  record: ApprovalRecord,
  approver: { identity: string; role: string; actor: string },
  currentHash: string,
  now: Date,
): ApprovalRefusal | null {
  if (record.state !== 'pending') return 'not_pending';
  if (record.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (approver.role !== 'ops') return 'wrong_role';
  // The requester's key, or another of its name (a rotated key, the same person's key of another role).
  if (approver.identity === record.requestedBy || samePerson(approver.actor, record.requestedActor)) {
    return 'self_approval';
  }
  if (record.hash !== currentHash) return 'plan_changed';
  return null;
}

/**
 * Whether `by` may reject (or withdraw) an open request: any ops key; another role's key (support, asking for an
 * override) only a request it made itself.
 */
export function canReject(record: ApprovalRecord, by: { identity: string; role: string }): boolean {
  return by.role === 'ops' || by.identity === record.requestedBy;
}

/** Whether an approved record lets its command run now, the subject hashing to `currentHash`. */
export function canExecute(record: ApprovalRecord, currentHash: string, now: Date): ApprovalRefusal | null {
  if (record.state !== 'approved') return 'not_approved';
  if (record.expiresAt.getTime() <= now.getTime()) return 'expired';
  if (record.hash !== currentHash) return 'plan_changed';
  return null;
}
