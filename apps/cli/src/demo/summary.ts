import { writeFileSync } from 'node:fs';
import { duration, int, percent, reasons, table } from './format';
import { Story } from './story';

/** What CI reads back (DEMO_SUMMARY_FILE): the same facts as the printed summary. */
export interface DemoSummary {
  accounts: number;
  wallSeconds: number;
  waves: {
    id: string;
    name: string;
    state: string;
    members: number;
    enabled: number;
    skipped: Record<string, number>;
    failed: number;
    durationMs: number | null;
  }[];
  halt: { wave: string; statusReason: string | null; statusText: string | null; resumed: boolean } | null;
  support: { kind: string; login: string; ticket: string; state: string; outcome: string | null; tookMs: number }[];
  urls: { statusPage: string; docs: string };
  /** What the incident room's receiver acknowledged (issue 20), in order of arrival. */
  notifications: { id: string; kind: string; title: string; reason: string; signed: boolean }[];
}

function waveDuration(startedAt: string | null | undefined, completedAt: string | null | undefined): number | null {
  return startedAt && completedAt ? Date.parse(completedAt) - Date.parse(startedAt) : null;
}

/** Step 5: the summary table, the support actions, and where to look next (status page, API docs, keys). */
export function printSummary(story: Story): DemoSummary {
  const { term, config, halt } = story;
  const { bold } = term.paint;
  const statusPage = `${config.apiOrigin}/`;
  const docs = `${config.apiOrigin}/docs`;
  const summary: DemoSummary = {
    accounts: config.accounts,
    wallSeconds: Math.round((Date.now() - story.startedAt) / 100) / 10,
    waves: story.waves.map((w) => ({
      id: w.id,
      name: w.spec.name,
      state: w.last?.state ?? 'unknown',
      members: w.last?.total ?? 0,
      enabled: w.last?.counts.enabled ?? 0,
      skipped: w.last?.skipReasons ?? {},
      failed: w.last?.counts.failed ?? 0,
      durationMs: waveDuration(w.last?.startedAt, w.last?.completedAt),
    })),
    halt: halt
      ? {
          wave: halt.label,
          statusReason: halt.statusReason,
          statusText: halt.statusText,
          resumed: halt.resumedAt !== null,
        }
      : null,
    support: story.supportActions.map((a) => ({
      kind: a.kind,
      login: a.login,
      ticket: a.ticket,
      state: a.operation.state,
      outcome: a.operation.outcome,
      tookMs: a.tookMs,
    })),
    urls: { statusPage, docs },
    notifications: (story.inbox?.received ?? []).map(({ id, kind, title, reason, signed }) => ({
      id,
      kind,
      title,
      reason,
      signed,
    })),
  };

  term.say(bold('5. Summary'));
  const rows = [['wave', 'state', 'members', 'enabled', 'skipped (by reason)', 'failed', 'duration']];
  for (const [i, w] of summary.waves.entries()) {
    const halted = halt && halt.waveId === w.id && halt.haltedAt && halt.resumedAt ? halt.resumedAt - halt.haltedAt : 0;
    rows.push([
      story.waves[i].label,
      w.state,
      int(w.members),
      int(w.enabled),
      reasons(w.skipped),
      int(w.failed),
      w.durationMs === null ? '–' : duration(w.durationMs) + (halted ? ` (halted ${duration(halted)})` : ''),
    ]);
  }
  for (const line of table(rows, new Set([2, 3, 5]))) term.say(`   ${line}`);
  if (halt) {
    term.say(
      `   halt: ${halt.label} at ${halt.fractionAtHalt === null ? '?' : percent(halt.fractionAtHalt)}, ` +
        `reason ${halt.statusReason ?? '?'}: "${halt.statusText ?? ''}"; ` +
        (halt.resumedAt ? `resumed by ops, rate raised to ${int(halt.rateRaisedTo ?? 0)}/s` : 'not resumed'),
    );
  }
  term.say('   support actions:');
  for (const a of story.supportActions) {
    const override =
      a.after.override?.reason && !a.before.override?.reason ? ', override of password_reset_required' : '';
    term.say(
      `     ${a.kind.padEnd(8)} ${a.login}  ticket ${a.ticket}: ${a.operation.state} (${a.operation.outcome ?? '–'}) in ` +
        `${duration(a.tookMs)}${override}; IMAP ${a.after.access.imap ? 'on' : 'off'}, POP3 ${a.after.access.pop3 ? 'on' : 'off'}`,
    );
  }
  term.say(`   notifications delivered to the incident room (${summary.notifications.length}, each signed and once):`);
  for (const n of summary.notifications) term.say(`     ${n.kind.padEnd(22)} ${n.title}: ${n.reason}`);
  term.say(`   the whole story took ${duration(Date.now() - story.startedAt)} (${int(config.accounts)} accounts)`);
  term.say();
  term.say(`   status page  ${statusPage}`);
  term.say(`   API docs     ${docs}`);
  term.say('   API keys (Authorization: Bearer <key>):');
  // Every key the story made: the runbook's flows need a second ops key (approvals) and the signals key (a signal
  // gate's feed, login events), not only the three a person reads with.
  const uses = { ops2: 'a second ops key: approves what ops asks', signals: 'POST /signals and /login-events' };
  for (const role of ['ops', 'ops2', 'support', 'viewer', 'signals'] as const) {
    const use = role in uses ? `   (${uses[role as keyof typeof uses]})` : '';
    term.say(`     ${role.padEnd(8)} ${story.keys[role].secret}${use}`);
  }
  term.say(`   e.g. curl -H "Authorization: Bearer ${story.keys.viewer.secret}" ${config.apiOrigin}/api/v1/progress`);
  if (config.summaryFile) writeFileSync(config.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
