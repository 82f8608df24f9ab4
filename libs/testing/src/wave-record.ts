import { EngineHarness } from './engine-harness';
import { countersDiff, countersFromTruth } from './wave-counters';

/** What recordVsMailstore reads of the mail server: each member's switches (the simulator, or switchesView). */
export interface MailstoreView {
  account(login: string): { protocols: { imap?: boolean; pop3?: boolean } } | undefined;
}

/**
 * A native mail server's store (a passdb's rows, a directory's entries) read into a map, as the simulator answers: an
 * account it does not hold is closed.
 */
export function switchesView(state: ReadonlyMap<string, { imap: boolean; pop3: boolean }>): MailstoreView {
  return { account: (login) => ({ protocols: state.get(login) ?? { imap: false, pop3: false } }) };
}

/** Actions of the terminal forward ledger rows of wave members. */
const TERMINAL_ACTIONS = ['member.enabled', 'member.skipped', 'member.failed', 'member.cancelled'];

export interface RecordCheckOptions {
  /** The wave is paused: pending members are allowed (never in-flight ones). */
  paused?: boolean;
  /** The wave was rolled back: every enabled member must be restored, at the simulator too. */
  rolledBack?: boolean;
  /** Accounts support changed as well: their mailstore state is the model's to judge, not this check's. */
  supportTouched?: ReadonlySet<string>;
}

/** Rollback outcomes that end a member's restoration. */
const ROLLBACK_TERMINAL = ['rolled_back', 'unchanged', 'conflict', 'failed'];
/** Rollback outcomes after which the member's account is back to its prior state. */
const RESTORED = ['rolled_back', 'unchanged'];

const sample = (xs: string[]) => ({ count: xs.length, first: xs.slice(0, 5) });
const tag = (r: { state: string; reason: string | null }) => `${r.state}${r.reason ? `:${r.reason}` : ''}`;

/**
 * The end-of-run check of the fault suite (invariants 1, 4 and 6, and the service's record agreeing with the
 * mailstore), for a wave at rest. Returns a report; a clean one equals `cleanRecord()`:
 *  - every member has exactly one terminal state (enabled, skipped, failed, cancelled); a paused wave may still
 *    have pending members, never in-flight ones; once the wave's rollback began, every enabled member has a
 *    terminal rollback outcome and no other member has one (`rolledBack`: every enabled member restored);
 *  - exactly one terminal ledger row per enabled/skipped/failed member, of that state and reason, plus one
 *    `member.rollback.*` row of its rollback outcome; a cancelled member has a `member.cancelled` row or none, and
 *    those with none are exactly as many as the wave's commands say they cancelled (`detail.membersCancelled`);
 *  - the counters equal the truth recomputed from the members, none negative;
 *  - at the simulator, for every member support did not touch: open for the wave's protocols exactly when
 *    recorded enabled and not restored, closed otherwise (`rolledBack`: back to its own prior state).
 */
export async function recordVsMailstore(
  h: Pick<EngineHarness, 'db' | 'counters'> & { sim: MailstoreView },
  waveId: string,
  members: readonly string[],
  opts: RecordCheckOptions = {},
) {
  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);
  const [w] = await q<{ protocols: ('imap' | 'pop3')[]; rollback_began: boolean }>(
    `SELECT protocols, rollback_started_at IS NOT NULL AS rollback_began FROM waves WHERE id = $1`,
    [waveId],
  );
  const rows = await q<{
    login: string;
    state: string;
    reason: string | null;
    rollback_state: string | null;
    rollback_reason: string | null;
    prior_imap: boolean | null;
    prior_pop3: boolean | null;
  }>(
    `SELECT a.login, m.state, m.reason, m.rollback_state, m.rollback_reason, m.prior_imap, m.prior_pop3
       FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1`,
    [waveId],
  );
  const ledger = await q<{ login: string; action: string; reason: string | null }>(
    `SELECT login, action, reason FROM audit_log
      WHERE wave_id = $1 AND (action = ANY($2::text[]) OR (action LIKE 'member.rollback.%' AND action <> 'member.rollback.reasked')) ORDER BY id`,
    [waveId, TERMINAL_ACTIONS],
  );
  const byLogin = new Map<string, string[]>();
  for (const l of ledger)
    byLogin.set(l.login, [...(byLogin.get(l.login) ?? []), `${l.action}${l.reason ? `:${l.reason}` : ''}`]);

  const wanted = new Set(members);
  const seen = new Set(rows.map((r) => r.login));
  const notTerminal: Record<string, number> = {};
  const ledgerWrong: string[] = [];
  const enabledButClosed: string[] = [];
  const openButNotEnabled: string[] = [];
  const notRestored: string[] = [];
  let cancelledWithoutRow = 0;
  for (const r of rows) {
    const open = r.state === 'pending' || r.state === 'in_flight';
    if (open && !(opts.paused && r.state === 'pending')) notTerminal[r.state] = (notTerminal[r.state] ?? 0) + 1;
    const rollbackDue = w.rollback_began && r.state === 'enabled';
    const rollbackOk = opts.rolledBack
      ? !rollbackDue || r.rollback_state === 'rolled_back'
      : rollbackDue
        ? ROLLBACK_TERMINAL.includes(r.rollback_state ?? '')
        : // no wave rollback for this member (a support rollback of one account may have ended it, out of the ledger)
          r.rollback_state === null || (!w.rollback_began && r.rollback_state !== 'in_flight');
    if (!rollbackOk) {
      const k = `rollback:${r.rollback_state}`;
      notTerminal[k] = (notTerminal[k] ?? 0) + 1;
    }
    const got = byLogin.get(r.login) ?? [];
    const expected = ['enabled', 'skipped', 'failed'].includes(r.state) ? [`member.${tag(r)}`] : [];
    if (w.rollback_began && r.rollback_state && r.rollback_state !== 'in_flight')
      expected.push(`member.rollback.${tag({ state: r.rollback_state, reason: r.rollback_reason })}`);
    const cancelledRow = r.state === 'cancelled' && got.length === 1 && got[0].startsWith('member.cancelled');
    if (r.state === 'cancelled' && got.length === 0) cancelledWithoutRow++;
    if (JSON.stringify(got) !== JSON.stringify(expected) && !cancelledRow)
      ledgerWrong.push(`${r.login} ${tag(r)} ledger=[${got.join(', ')}]`);
    if (opts.supportTouched?.has(r.login)) continue;
    const sim = h.sim.account(r.login)!.protocols;
    if (opts.rolledBack) {
      // Back to its own prior state; members the wave never opened are untouched (closed: the simulator starts so).
      const want = r.state === 'enabled' ? { imap: r.prior_imap, pop3: r.prior_pop3 } : { imap: false, pop3: false };
      if (sim.imap !== want.imap || sim.pop3 !== want.pop3)
        notRestored.push(`${r.login} ${r.state}/${r.rollback_state} sim=${JSON.stringify(sim)}`);
    } else {
      const open = r.state === 'enabled' && !RESTORED.includes(r.rollback_state ?? '');
      if (open && !w.protocols.every((p) => sim[p])) enabledButClosed.push(r.login);
      if (!open && (sim.imap || sim.pop3)) openButNotEnabled.push(`${r.login} ${tag(r)}`);
    }
  }
  const [byCommands] = await q<{ n: string }>(
    `SELECT COALESCE(sum((detail->>'membersCancelled')::int), 0) AS n FROM audit_log
      WHERE wave_id = $1 AND action LIKE 'wave.%' AND detail ? 'membersCancelled'`,
    [waveId],
  );
  const raw = await q<{ name: string; value: string }>(`SELECT name, value FROM wave_counters WHERE wave_id = $1`, [
    waveId,
  ]);
  const counters = await h.counters(waveId);
  const truth = await countersFromTruth(h.db, waveId);
  return {
    wave: waveId,
    missingMembers: members.filter((m) => !seen.has(m)).length,
    extraMembers: rows.filter((r) => !wanted.has(r.login)).length,
    notTerminal,
    ledgerWrong: sample(ledgerWrong),
    cancelledUnaccounted: cancelledWithoutRow - Number(byCommands.n),
    negativeCounters: Object.fromEntries(raw.filter((c) => Number(c.value) < 0).map((c) => [c.name, Number(c.value)])),
    countersDiff: countersDiff(counters, truth),
    enabledButClosed: sample(enabledButClosed),
    openButNotEnabled: sample(openButNotEnabled),
    notRestored: sample(notRestored),
  };
}

/** What `recordVsMailstore` reports when everything agrees. */
export function cleanRecord(waveId: string): Awaited<ReturnType<typeof recordVsMailstore>> {
  const none = { count: 0, first: [] };
  return {
    wave: waveId,
    missingMembers: 0,
    extraMembers: 0,
    notTerminal: {},
    ledgerWrong: none,
    cancelledUnaccounted: 0,
    negativeCounters: {},
    countersDiff: {},
    enabledButClosed: none,
    openButNotEnabled: none,
    notRestored: none,
  };
}

type Switches = { imap: boolean; pop3: boolean };

/**
 * Accounts whose switches as the service records them (accounts.imap_enabled, pop3_enabled) are not the mail
 * server's, with both: empty when the record is the truth. The account-level view, beside recordVsMailstore's
 * member-level one (a wave's outcomes).
 */
export async function accessDisagreements(
  h: Pick<EngineHarness, 'db'>,
  store: { switches(logins: readonly string[]): Promise<ReadonlyMap<string, Switches>> },
  logins: readonly string[],
): Promise<{ login: string; recorded?: Switches; store?: Switches }[]> {
  const rows = await h.db.dataSource.query<{ login: string; imap: boolean; pop3: boolean }[]>(
    `SELECT login, imap_enabled AS imap, pop3_enabled AS pop3 FROM accounts WHERE login = ANY($1::text[])`,
    [logins],
  );
  const recorded = new Map(rows.map((r) => [r.login, { imap: r.imap, pop3: r.pop3 }]));
  const held = await store.switches(logins);
  return logins
    .filter((login) => JSON.stringify(recorded.get(login)) !== JSON.stringify(held.get(login)))
    .map((login) => ({ login, recorded: recorded.get(login), store: held.get(login) }));
}
