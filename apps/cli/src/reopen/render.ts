import { operationEnded } from '@app/domain';
import type { Account, CommandResult, Operation, Wave, WavePreview } from '../demo/api.types';
import { duration, int, perSecond, reasons, table } from '../demo/format';
import type { View } from './program';

/** The parts of GET /waves/{id} shown beyond the demo's Wave (docs/openapi.json, WaveDto, has them all). */
interface WaveDetail extends Wave {
  description?: string | null;
  statusReason?: string | null;
  protocols?: string[];
  selector?: { type: string; cohorts?: string[]; logins?: string[] };
  steps?: { percent: number; bakeSeconds: number }[];
  gates?: WaveGate[];
  batchSize?: number;
  concurrency?: number;
  startedAt?: string | null;
  completedAt?: string | null;
  createdBy?: string;
  createdAt?: string;
}

/** A gate as GET /waves/{id} has it (libs/domain/src/gates.ts, GateSpec): what it reads, and its limit. */
interface WaveGate {
  name: string;
  metric: string;
  action: string;
  threshold?: number | null;
  windowSeconds?: number;
  cohort?: string;
  signal?: string;
  query?: string;
  failureCondition?: string;
  successCondition?: string;
}

/**
 * "failed-logins: signal failed_logins_per_minute for general above 100 over 60 s → halt": which input the gate
 * reads (the runbook's night before checks that each signal a plan names is pushed; it had to be dug out of --json).
 */
function gateLine(g: WaveGate): string {
  const input =
    g.metric === 'signal'
      ? `signal ${g.signal ?? '?'}`
      : g.metric === 'prometheus'
        ? `prometheus ${JSON.stringify(g.query ?? '')}`
        : g.metric;
  const limit =
    typeof g.threshold === 'number'
      ? ` above ${g.threshold}`
      : g.failureCondition
        ? ` failing when ${g.failureCondition}`
        : g.successCondition
          ? ` passing when ${g.successCondition}`
          : '';
  const window = g.windowSeconds ? ` over ${g.windowSeconds} s` : '';
  return `gate      ${g.name}: ${input}${g.cohort ? ` for ${g.cohort}` : ''}${limit}${window} → ${g.action}`;
}

interface AuditEntry {
  id: string;
  at: string;
  actor: string;
  action: string;
  waveId: string | null;
  login: string | null;
  reason: string | null;
  ticket: string | null;
}

/** GET /approvals/{id} (docs/openapi.json, ApprovalDetailDto). */
interface ApprovalEntry {
  id: string;
  waveId: string | null;
  command: string;
  /** The command's input: a support override's account, change, reason and ticket. */
  args: Record<string, unknown>;
  /** The wave's plan, or a support override's account as it was shown. */
  plan: Record<string, unknown> | null;
  rule: string;
  state: string;
  hash: string;
  requestedBy: string;
  requestedAt: string;
  expiresAt: string;
  decidedBy: string | null;
  note: string | null;
  endedReason: string | null;
  counts: { eligible: number; heldBack: Record<string, number> } | null;
  sinceLastApproval: { approvalId: string; changes: FieldChange[] } | null;
  current?: { matches: boolean; changes: FieldChange[] } | null;
}

interface FieldChange {
  field: string;
  before?: unknown;
  after?: unknown;
}

interface Page<T> {
  items: T[];
  nextCursor?: string | null;
}

/** "2026-05-09 08:00:00Z": UTC, 24-hour, the zone said (an incident room spans zones). */
function when(iso: string | null | undefined): string {
  return iso ? `${iso.slice(0, 19).replace('T', ' ')}Z` : '–';
}

/**
 * The cursor is a position only (the filters are not in it): `reopen audit --cursor C` alone would list every older
 * entry, not the next page of `--wave ID`; so the hint says to repeat the command.
 */
function nextPage(page: Page<unknown>): string[] {
  return page.nextCursor ? [`more: the same command with --cursor ${page.nextCursor}`] : [];
}

/** The lines a person reads for an answer of the API (`body`) shown as `view`. */
export function render(view: View, body: unknown): string[] {
  switch (view) {
    case 'waves':
      return waves(body as Page<WaveDetail>);
    case 'wave':
      return wave(body as WaveDetail);
    case 'preview':
      return preview(body as WavePreview);
    case 'command':
      return command(body as CommandResult);
    case 'account':
      return account(body as Account);
    case 'operation':
      return operation(body as Operation);
    case 'audit':
      return audit(body as Page<AuditEntry>);
    case 'approvals':
      return approvalList(body as ApprovalEntry[]);
    case 'approval':
      return approval(body as ApprovalEntry);
    case 'workers':
      return workers(body as Roster);
    case 'redelivered': {
      const { redelivered } = body as { redelivered: string[] };
      return redelivered.length
        ? [`${redelivered.length} deliveries pending again: ${redelivered.join(', ')}`]
        : ['no failed delivery to send again'];
    }
  }
}

/** GET /workers (docs/openapi.json, WorkersDto). */
interface Roster {
  alive: number;
  api: { version: string; commit: string };
  workers: {
    id: string;
    alive: boolean;
    version: string;
    commit: string;
    driver: string;
    startedAt: string;
    lastSeenAt: string;
    leftAt?: string;
  }[];
}

function workers(r: Roster): string[] {
  const state = (w: Roster['workers'][number]) => (w.alive ? 'alive' : w.leftAt ? `stopped ${when(w.leftAt)}` : 'lost');
  const rows = r.workers.map((w) => [
    w.id,
    state(w),
    `${w.version} (${w.commit})`,
    w.driver,
    when(w.startedAt),
    when(w.lastSeenAt),
  ]);
  return [
    `${r.alive} alive${r.alive ? '' : ': no wave moves, no scheduled start fires'}; the API runs ${r.api.version} (${r.api.commit})`,
    ...(rows.length ? table([['ID', 'STATE', 'BUILD', 'DRIVER', 'STARTED (UTC)', 'LAST REPORT (UTC)'], ...rows]) : []),
  ];
}

function waves(page: Page<WaveDetail>): string[] {
  if (!page.items.length) return ['no waves'];
  const rows = page.items.map((w) => [
    w.id,
    w.name,
    // Why it is paused or halted: the runbook resumes only the waves paused as mailstore_unreachable, from this list.
    w.statusReason ? `${w.state} (${w.statusReason})` : w.state,
    perSecond(w.ratePerSecond),
    w.memberCount === null ? '–' : int(w.memberCount),
    when(w.startAt),
  ]);
  return [
    ...table([['ID', 'NAME', 'STATE', 'RATE', 'MEMBERS', 'START (UTC)'], ...rows], new Set([3, 4])),
    ...nextPage(page),
  ];
}

function wave(w: WaveDetail): string[] {
  const selector = w.selector
    ? w.selector.type === 'cohorts'
      ? `cohorts ${w.selector.cohorts?.join(', ')}`
      : w.selector.type === 'logins'
        ? `${int(w.selector.logins?.length ?? 0)} logins`
        : 'every account not yet in a wave'
    : '–';
  const lines = [
    `wave      ${w.id}`,
    `name      ${w.name}`,
    `state     ${w.state}${w.statusReason ? ` (${w.statusReason})` : ''}`,
    `selects   ${selector}; protocols ${w.protocols?.join(', ') ?? '–'}`,
    `rate      ${perSecond(w.ratePerSecond)}, batches of ${w.batchSize ?? '–'}, ${w.concurrency ?? '–'} in flight`,
    `members   ${w.memberCount === null ? '– (fixed when it starts)' : int(w.memberCount)}`,
    `start     ${w.startLocal ? `${w.startLocal.replace('T', ' ')} ${w.timeZone} (${when(w.startAt)})` : 'when started'}`,
    `started   ${when(w.startedAt)}; completed ${when(w.completedAt)}`,
  ];
  if (w.steps?.length)
    lines.push(
      `steps     ${w.steps.map((s) => `${s.percent} %${s.bakeSeconds ? ` then bake ${s.bakeSeconds} s` : ''}`).join(', ')}`,
    );
  for (const g of w.gates ?? []) lines.push(gateLine(g));
  if (w.createdBy) lines.push(`created   ${when(w.createdAt)} by ${w.createdBy}`);
  return lines;
}

/** What the batches were sized against: the mailstore's limits as a worker last read them. */
function mailstoreLimits(m: WavePreview['mailstore']): string {
  if (!m) return 'limits not read yet (batches sized as if it took 500 accounts per call)';
  return `at most ${int(m.batchSizeLimit)} accounts per call, ${int(m.accountUpdatesPerSecond)}/s (read ${when(m.readAt)})`;
}

function preview(p: WavePreview): string[] {
  const d = p.projectedDuration;
  return [
    `members   ${int(p.members)}, eligible ${int(p.eligible)}`,
    `skipped   ${reasons(p.skips)}`,
    `batches   ${int(p.batches)} calls of up to ${int(p.batchSize)} account${p.batchSize === 1 ? '' : 's'} at ${perSecond(p.ratePerSecond)}`,
    `mailstore ${mailstoreLimits(p.mailstore)}`,
    `duration  ${duration(d.totalSeconds * 1000)} (sending ${duration(d.sendingSeconds * 1000)}, baking ${duration(d.bakeSeconds * 1000)})`,
    ...p.steps.map(
      (s, i) => `step ${i + 1}    ${s.percent} % (up to ${int(s.memberLimit)} members), bake ${s.bakeSeconds} s`,
    ),
  ];
}

function command(r: CommandResult): string[] {
  return [r.noop ? `wave ${r.id}: already ${r.state} (nothing changed)` : `wave ${r.id}: ${r.from} → ${r.state}`];
}

/** Recent support operations `accounts show` lists (the API sends up to 20; --json has them all). */
const SHOWN_OPERATIONS = 5;

/** A member's rollback state (wave_members.rollback_state) in words. */
const ROLLBACK_WORDS: Record<string, string> = {
  pending: 'pending (not restored yet)',
  in_flight: 'in flight',
  rolled_back: 'restored to its prior state',
  unchanged: 'nothing to restore',
  conflict: 'conflict (changed since, left alone)',
  failed: 'failed (not restored)',
};

function account(a: Account): string[] {
  const lines = [
    `login        ${a.login}`,
    `cohorts      ${a.cohorts.join(', ') || '–'}`,
    `access       imap ${a.access.imap ? 'open' : 'closed'}, pop3 ${a.access.pop3 ? 'open' : 'closed'}`,
    `leaked       ${!a.leaked ? 'no' : a.passwordChangedAt ? `yes, password changed ${when(a.passwordChangedAt)}` : 'yes, no password change recorded'}`,
    `held         ${a.held ? 'yes (waves leave it out)' : 'no'}`,
    `eligibility  ${a.eligibility.eligible ? 'eligible' : `not eligible: ${a.eligibility.reason}`}`,
  ];
  if (a.override)
    lines.push(
      `override     ${a.override.reason ?? ''} (ticket ${a.override.ticket ?? '–'}, by ${a.override.by ?? '–'})`,
    );
  if (a.hold)
    lines.push(
      `hold         ${a.hold.reason ?? ''} (ticket ${a.hold.ticket ?? '–'}, by ${a.hold.by ?? '–'}, ${when(a.hold.at)})`,
    );
  for (const w of a.waves)
    lines.push(
      `wave         ${w.name}${w.waveState ? ` (${w.waveState})` : ''}: ${w.memberState}${w.reason ? ` (${w.reason})` : ''}` +
        // `enabled` stays the member's outcome after its wave's rollback: what the rollback did to it comes next.
        (w.rollbackState ? `, then rollback: ${ROLLBACK_WORDS[w.rollbackState] ?? w.rollbackState}` : ''),
    );
  const ops = a.operations ?? [];
  for (const o of ops.slice(0, SHOWN_OPERATIONS))
    lines.push(
      `operation    ${when(o.createdAt)} ${o.kind} ${o.protocols.join(', ')}: ${operationState(o)} (ticket ${o.ticket}, by ${o.actor})`,
    );
  if (ops.length > SHOWN_OPERATIONS) lines.push(`             and ${ops.length - SHOWN_OPERATIONS} older (--json)`);
  return lines;
}

/** "succeeded (applied) in 118 ms", "failed (http_503) in 2.1 s: {...}", or "queued". */
function operationState(o: Operation): string {
  if (!operationEnded(o.state)) return o.state;
  const took = o.completedAt ? ` in ${duration(Date.parse(o.completedAt) - Date.parse(o.createdAt))}` : '';
  return `${o.state} (${o.outcome ?? 'no outcome'})${took}${o.error ? `: ${JSON.stringify(o.error)}` : ''}`;
}

function operation(o: Operation): string[] {
  return [
    `operation ${o.id}: ${o.kind} ${o.protocols.join(', ')} for ${o.login}: ${operationState(o)}` +
      `${o.overrides.length ? `, overriding ${o.overrides.join(', ')}` : ''} (ticket ${o.ticket})`,
  ];
}

function audit(page: Page<AuditEntry>): string[] {
  if (!page.items.length) return ['no audit entries'];
  const rows = page.items.map((e) => [
    when(e.at),
    e.actor,
    e.action,
    e.waveId ?? '',
    e.login ?? '',
    e.ticket ?? '',
    e.reason ?? '',
  ]);
  return [...table([['AT (UTC)', 'ACTOR', 'ACTION', 'WAVE', 'LOGIN', 'TICKET', 'REASON'], ...rows]), ...nextPage(page)];
}

function change(c: FieldChange): string {
  const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));
  return `${c.field}: ${show(c.before)} → ${show(c.after)}`;
}

function approvalList(items: ApprovalEntry[]): string[] {
  if (!items.length) return ['no approval requests'];
  const rows = items.map((a) => [
    a.id,
    a.waveId ?? '',
    a.command,
    a.rule,
    a.state,
    a.requestedBy,
    when(a.expiresAt),
    a.sinceLastApproval ? String(a.sinceLastApproval.changes.length) : '–',
  ]);
  return table([['ID', 'WAVE', 'COMMAND', 'RULE', 'STATE', 'REQUESTED BY', 'EXPIRES (UTC)', 'CHANGES'], ...rows]);
}

function approval(a: ApprovalEntry): string[] {
  // A support override has no wave: it is about one account, and what the approver decides on is the change asked
  // and the account as it was shown (its args and plan).
  const account = a.waveId === null && typeof a.args?.login === 'string' ? a.args.login : null;
  const lines = [
    `approval  ${a.id}: ${a.command} of ${account ? `account ${account}` : `wave ${a.waveId ?? '–'}`} (rule ${a.rule}), ${a.state}`,
    `requested ${when(a.requestedAt)} by ${a.requestedBy}; expires ${when(a.expiresAt)}`,
    `hash      ${a.hash}`,
  ];
  if (account) {
    const { kind, protocols, reason, ticket } = a.args;
    const asked = [kind, ...(Array.isArray(protocols) ? (protocols as unknown[]) : [])].map(String).join(' ');
    lines.push(`change    ${asked} (reason: ${String(reason)}; ticket ${String(ticket)})`);
    if (a.plan) lines.push(`account   ${JSON.stringify(a.plan, Object.keys(a.plan).sort())}`);
  }
  if (a.counts) lines.push(`counts    eligible ${int(a.counts.eligible)}; held back ${reasons(a.counts.heldBack)}`);
  if (a.decidedBy) lines.push(`decided   by ${a.decidedBy}${a.note ? `: ${a.note}` : ''}`);
  if (a.endedReason) lines.push(`ended     ${a.endedReason}`);
  if (a.current) lines.push(`now       ${a.current.matches ? 'plan and counts unchanged' : 'MOVED since the request'}`);
  for (const c of a.current?.changes ?? []) lines.push(`  ${change(c)}`);
  if (a.sinceLastApproval) {
    lines.push(`since the last approval (${a.sinceLastApproval.approvalId}):`);
    for (const c of a.sinceLastApproval.changes) lines.push(`  ${change(c)}`);
  }
  return lines;
}
