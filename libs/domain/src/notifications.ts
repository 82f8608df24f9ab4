import { assertNever } from './exhaustive';

/*
 * Notifications (issue 20), pure: which audit rows are events, what each event says, the bodies of the four formats
 * (their signature and retry schedule: notification-delivery.ts). The outbox (migration 1764420000000) derives the kind from the audit row in
 * SQL, in the transaction that writes it; `notificationKindOf` is that statement's twin, pinned to it by
 * notification-outbox.int-spec.ts.
 */

export const NOTIFICATION_KINDS = [
  'wave.scheduled',
  'wave.started',
  'wave.ramp_step_done',
  'wave.paused',
  'wave.halted',
  'wave.resumed',
  'wave.completed',
  'wave.cancelled',
  'wave.rollback_started',
  'wave.rollback_finished',
  'account.override',
  'approval.requested',
  'approval.given',
  'wave.schedule_refused',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export const NOTIFICATION_FORMATS = ['json', 'slack', 'mattermost', 'teams'] as const;
export type NotificationFormat = (typeof NOTIFICATION_FORMATS)[number];

/** The audit row's fields an event is made of (audit_log's columns). */
export interface AuditFacts {
  action: string;
  actor: string;
  detail?: unknown;
}

/** Support's request to open an account waves hold back: an override of one of these holds is an event. */
const HELD_OVERRIDES = new Set(['support_hold', 'password_reset_required']);

/**
 * The event an audit row reports, or null. Wave commands are audited as `wave.<command>`: a resume after a ramp bake
 * (actor `ramp`) is the ramp's own next step, not an event (its step's end was one); `wave.fire_schedule` is the
 * scheduled start. A support enable is an event when it overrides a hold (the `overrides` of its detail).
 * @internal the rule the outbox trigger's SQL follows (pinned by notification-outbox.int-spec.ts); knip's production
 * pass skips it.
 */
export function notificationKindOf(row: AuditFacts): NotificationKind | null {
  switch (row.action) {
    case 'wave.schedule':
      return 'wave.scheduled';
    case 'wave.start':
    case 'wave.fire_schedule':
      return 'wave.started';
    case 'wave.step_pause':
      return 'wave.ramp_step_done';
    case 'wave.pause':
    case 'wave.gate_pause':
    case 'wave.window_closed':
      return 'wave.paused';
    case 'wave.window_opened':
      return 'wave.resumed';
    case 'wave.halt':
      return 'wave.halted';
    case 'wave.resume':
      return row.actor === 'ramp' ? null : 'wave.resumed';
    case 'wave.complete':
      return 'wave.completed';
    case 'wave.cancel':
      return 'wave.cancelled';
    case 'wave.rollback':
      return 'wave.rollback_started';
    case 'wave.rollback_complete':
      return 'wave.rollback_finished';
    case 'support.enable_requested':
      return overridesAHold(row.detail) ? 'account.override' : null;
    case 'approval.requested':
      return 'approval.requested';
    case 'approval.given':
      return 'approval.given';
    case 'wave.schedule_refused':
      return 'wave.schedule_refused';
    default:
      return null;
  }
}

/**
 * Every audit action that may be an event (the outbox trigger's WHEN clause lists exactly these).
 * @internal the tests' list; knip's production pass skips it.
 */
export const NOTIFIABLE_ACTIONS = [
  'wave.schedule',
  'wave.start',
  'wave.fire_schedule',
  'wave.step_pause',
  'wave.pause',
  'wave.gate_pause',
  'wave.window_closed',
  'wave.window_opened',
  'wave.halt',
  'wave.resume',
  'wave.complete',
  'wave.cancel',
  'wave.rollback',
  'wave.rollback_complete',
  'support.enable_requested',
  'approval.requested',
  'approval.given',
  'wave.schedule_refused',
] as const;

function overridesAHold(detail: unknown): boolean {
  const overrides = (detail as { overrides?: unknown } | null | undefined)?.overrides;
  return Array.isArray(overrides) && overrides.some((o) => typeof o === 'string' && HELD_OVERRIDES.has(o));
}

/** One event of the outbox, as delivered. */
export interface NotificationEvent {
  /** Stable across retries and workers: receivers drop a second delivery of the same id. */
  id: string;
  kind: NotificationKind;
  at: Date;
  actor: string;
  waveId: string | null;
  waveName: string | null;
  login: string | null;
  reason: string | null;
  before: unknown;
  after: unknown;
  detail: unknown;
}

/** A gate's reading at a halt or a pause, as the gate evaluator recorded it. */
export interface GateReading {
  gate: string;
  value: number | null;
  threshold: number | null;
}

/** What an event says, whatever its format. */
export interface EventSummary {
  title: string;
  /** Why: the status reason, the gate and its reading, the command's actor. */
  reason: string;
  gate?: GateReading;
  conflicts?: number;
}

/** The status page (the API's root) for a wave: where a reader of the channel goes next. */
export function statusPageLink(publicUrl: string, waveId: string | null): string {
  const base = publicUrl.replace(/\/+$/, '');
  return waveId ? `${base}/#wave-${waveId}` : `${base}/`;
}

export function summarize(event: NotificationEvent): EventSummary {
  const wave = event.waveName ? `Wave "${event.waveName}"` : event.waveId ? `Wave ${event.waveId}` : 'Wave';
  const after = asRecord(event.after);
  const detail = asRecord(event.detail);
  const statusReason = typeof after.reason === 'string' ? after.reason : null;
  const by = `by ${event.actor}`;
  switch (event.kind) {
    case 'wave.scheduled':
      return { title: `${wave} scheduled`, reason: by };
    case 'wave.started':
      return { title: `${wave} started`, reason: event.actor === 'scheduler' ? 'its scheduled start' : by };
    case 'wave.ramp_step_done': {
      // `step` is the ramp's index (0 for the first step) as the engine records it.
      const step = typeof detail.step === 'number' ? ` ${detail.step + 1}` : '';
      return { title: `${wave}: ramp step${step} done, baking`, reason: 'the step’s accounts are done; gates watch' };
    }
    case 'wave.paused':
    case 'wave.halted': {
      const verb = event.kind === 'wave.halted' ? 'HALTED' : 'paused';
      const gate = gateReading(statusReason, detail);
      const reason = gate
        ? `gate ${gate.gate}: value ${show(gate.value)}, threshold ${show(gate.threshold)}`
        : statusReason === 'outside_window'
          ? `outside its time window; opens ${typeof detail.opensAt === 'string' ? detail.opensAt : 'at the next window'}`
          : (statusReason ?? by);
      return { title: `${wave} ${verb}`, reason, ...(gate ? { gate } : {}) };
    }
    case 'wave.resumed':
      return { title: `${wave} resumed`, reason: event.actor === 'windows' ? 'its time window opened' : by };
    case 'wave.completed':
      return { title: `${wave} completed`, reason: 'every member done' };
    case 'wave.cancelled':
      return { title: `${wave} cancelled`, reason: by };
    case 'wave.rollback_started':
      return { title: `${wave}: rollback started`, reason: by };
    case 'wave.rollback_finished': {
      const conflicts = typeof detail.conflicts === 'number' ? detail.conflicts : 0;
      return { title: `${wave}: rollback finished`, reason: `${conflicts} conflict(s)`, conflicts };
    }
    case 'account.override':
      return {
        title: `Support override: ${event.login ?? 'an account'} opened despite a hold`,
        reason: `${event.reason ?? 'no reason'} (${by})`,
      };
    case 'approval.requested':
      return { title: `${approvalSubject(event, wave)}: approval requested for ${command(detail)}`, reason: by };
    case 'approval.given':
      return { title: `${approvalSubject(event, wave)}: ${command(detail)} approved`, reason: by };
    case 'wave.schedule_refused':
      return {
        title: `${wave} NOT started at its scheduled time`,
        reason: `its approved plan or counts moved since the approval (${changedFields(detail)}); back to draft, schedule it again`,
      };
    default:
      return assertNever(event.kind, 'notification kind');
  }
}

/**
 * The gate behind a `gate:<name>` or `inconclusive:<name>` status, with its reading from the evaluator's detail
 * (`{ gates: [{ gate, value, threshold }] }`), or null for any other reason.
 */
function gateReading(statusReason: string | null, detail: Record<string, unknown>): GateReading | undefined {
  const name = statusReason?.match(/^(?:gate|inconclusive):(.+)$/)?.[1];
  if (!name) return undefined;
  const gates = Array.isArray(detail.gates) ? (detail.gates as unknown[]).map(asRecord) : [];
  const found = gates.find((g) => g.gate === name);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { gate: name, value: num(found?.value), threshold: num(found?.threshold) };
}

function changedFields(detail: Record<string, unknown>): string {
  const changes = Array.isArray(detail.changes) ? (detail.changes as unknown[]).map(asRecord) : [];
  const fields = changes.map((c) => c.field).filter((f): f is string => typeof f === 'string');
  return fields.length ? fields.slice(0, 5).join(', ') + (fields.length > 5 ? ', …' : '') : 'no approval on record';
}

function command(detail: Record<string, unknown>): string {
  if (typeof detail.command !== 'string') return 'a command';
  // A support override's request says which change it is (an enable past a hold, a release of it).
  const change = asRecord(detail.args).kind;
  return detail.command === 'support_override' && typeof change === 'string'
    ? `${detail.command} (${change})`
    : detail.command;
}

/** What an approval is about: its wave, or for a support override (no wave) the account its request names. */
function approvalSubject(event: NotificationEvent, wave: string): string {
  if (event.waveId) return wave;
  const login = asRecord(asRecord(event.detail).args).login;
  return typeof login === 'string' ? `Account ${login}` : 'An account';
}

function show(n: number | null): string {
  return n === null ? 'n/a' : String(n);
}

function asRecord(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The service's own JSON body: the whole event, the summary and the link. */
export interface JsonNotification {
  id: string;
  kind: NotificationKind;
  at: string;
  actor: string;
  wave: { id: string; name: string | null } | null;
  login: string | null;
  title: string;
  reason: string;
  gate?: GateReading;
  conflicts?: number;
  statusPage: string;
  before: unknown;
  after: unknown;
  detail: unknown;
}

/** The body POSTed for an event in a subscription's format. */
export function notificationBody(format: NotificationFormat, event: NotificationEvent, publicUrl: string): unknown {
  const s = summarize(event);
  const link = statusPageLink(publicUrl, event.waveId);
  switch (format) {
    case 'json': {
      const body: JsonNotification = {
        id: event.id,
        kind: event.kind,
        at: event.at.toISOString(),
        actor: event.actor,
        wave: event.waveId ? { id: event.waveId, name: event.waveName } : null,
        login: event.login,
        title: s.title,
        reason: s.reason,
        ...(s.gate ? { gate: s.gate } : {}),
        ...(s.conflicts !== undefined ? { conflicts: s.conflicts } : {}),
        statusPage: link,
        before: event.before ?? null,
        after: event.after ?? null,
        detail: event.detail ?? null,
      };
      return body;
    }
    // Slack's incoming webhooks: `text` in mrkdwn, links as <url|label>.
    case 'slack':
      return { text: `*${escapeSlack(s.title)}*: ${escapeSlack(s.reason)} <${link}|status page>` };
    // Mattermost's incoming webhooks: `text` in Markdown.
    case 'mattermost':
      return { text: `**${escapeMarkdown(s.title)}**: ${escapeMarkdown(s.reason)} [status page](${link})` };
    // Microsoft Teams' incoming webhooks (Office 365 connector card, which Teams' webhooks and workflows accept).
    case 'teams':
      return {
        '@type': 'MessageCard',
        '@context': 'https://schema.org/extensions',
        summary: s.title,
        themeColor: event.kind === 'wave.halted' ? 'D70000' : '0076D7',
        title: s.title,
        text: s.reason,
        potentialAction: [{ '@type': 'OpenUri', name: 'Status page', targets: [{ os: 'default', uri: link }] }],
      };
    default:
      return assertNever(format, 'notification format');
  }
}

/** Slack's three control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeMarkdown(text: string): string {
  return text.replace(/([\\`*_[\]<>])/g, '\\$1');
}
