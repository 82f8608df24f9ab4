import { EngineHarness } from './engine-harness';

/** What a model run did, on the simulator's clock: what the oracle needs to say who may be open. */
export interface RunLog {
  /** When the run began (reports say times from it). */
  t0: number;
  /** Members leaked with no password change since the incident from the start (the population's). */
  heldFromStart: Set<string>;
  imports: { logins: string[]; returnedAt: number }[];
  support: {
    login: string;
    kind: 'enable' | 'disable';
    opId: string;
    startedAt: number;
    returnedAt: number;
    /** An enable that recorded an override of password_reset_required: its expiry (epoch ms). */
    overrideExpiresAt?: number;
  }[];
  /** Support holds and releases (a hold keeps waves off the account from its answer to the next release). */
  holds: { login: string; hold: boolean; startedAt: number; returnedAt: number }[];
  /** Overrides revoked by ops (from the answer on). */
  revokes: { login: string; returnedAt: number }[];
  /** From a pause's answer to the next command that moved the wave out of paused: no forward call may start. */
  paused: { from: number; to: number }[];
  pausedSince: number | null;
}

const sample = (xs: string[]) => ({ count: xs.length, first: xs.slice(0, 5) });

/**
 * The wave model's oracle beyond the end-of-run check (`recordVsMailstore`), for a wave at rest, as a report (a
 * clean one equals `cleanModelReport()`):
 *  - the mailstore's version of each account is accounted for by exactly one recorded change per version (wave
 *    enable, wave rollback, support), and the latest of them gives its state; if that latest change is support's,
 *    it is what support asked for last; the service's view of the account (protocols, version) is the mailstore's;
 *  - no account was opened by a wave call started while it was held by support, or held for password_reset_required
 *    (leaked from the start or by an import that had answered) with no live override (given by a support enable that
 *    recorded one; ended by its expiry, a support disable or hold, or an ops revoke) (invariant 6);
 *  - no forward call started while the wave was paused by ops (invariant 3); each account changed at most once per
 *    direction (invariant 2).
 */
export async function modelVsMailstore(
  h: Pick<EngineHarness, 'db' | 'sim'>,
  waveId: string,
  logins: readonly string[],
  protocols: readonly ('imap' | 'pop3')[],
  log: RunLog,
) {
  const q = <T>(text: string, params: unknown[]) => h.db.dataSource.query<T[]>(text, params);
  const members = await q<{ login: string; state: string; reason: string | null; rollback_state: string | null }>(
    `SELECT a.login, m.state, m.reason, m.rollback_state
       FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE m.wave_id = $1`,
    [waveId],
  );
  // Every recorded change of these accounts at the mailstore, with the version it produced.
  const changes = await q<{
    login: string;
    action: string;
    operation_id: string | null;
    after: Record<string, unknown> | null;
  }>(
    `SELECT login, action, operation_id, after FROM audit_log
      WHERE login = ANY($1::text[])
        AND action IN ('member.enabled', 'member.rollback.rolled_back', 'support.enabled', 'support.disabled',
                       'support.rolled_back')
      ORDER BY id`,
    [logins],
  );
  const views = await q<{
    login: string;
    imap_enabled: boolean;
    pop3_enabled: boolean;
    mailstore_version: number | null;
  }>(`SELECT login, imap_enabled, pop3_enabled, mailstore_version FROM accounts WHERE login = ANY($1::text[])`, [
    logins,
  ]);
  const viewOf = new Map(views.map((v) => [v.login, v]));
  const byLogin = new Map(members.map((m) => [m.login, m]));

  const versionsUnexplained: string[] = [];
  const stateNotLatestChange: string[] = [];
  const supportNotLast: string[] = [];
  const viewDiffers: string[] = [];
  const duplicateSupportRecords: string[] = [];

  // Changes per account: one per mailstore version. A support operation run twice (its job taken over) may record
  // itself twice with the same answer: counted once, and reported if its answers differ.
  const recorded = new Map<string, { version: number; imap?: boolean; pop3?: boolean; what: string }[]>();
  const seenOps = new Map<string, number>();
  for (const c of changes) {
    const after = c.after ?? {};
    if (c.action.startsWith('support.') && after.changed !== true) continue;
    const version = Number(after.version);
    if (c.operation_id) {
      const prior = seenOps.get(c.operation_id);
      if (prior !== undefined) {
        if (prior !== version)
          duplicateSupportRecords.push(`${c.login} op ${c.operation_id}: v${prior} and v${version}`);
        continue;
      }
      seenOps.set(c.operation_id, version);
    }
    const list = recorded.get(c.login) ?? [];
    list.push({
      version,
      imap: typeof after.imap === 'boolean' ? after.imap : undefined,
      pop3: typeof after.pop3 === 'boolean' ? after.pop3 : undefined,
      what: c.action,
    });
    recorded.set(c.login, list);
  }

  for (const login of logins) {
    const m = byLogin.get(login);
    if (!m) continue; // reported as missing by recordVsMailstore
    const label = `${login} ${m.state}${m.reason ? `:${m.reason}` : ''}${m.rollback_state ? ` rollback:${m.rollback_state}` : ''}`;
    // The mailstore's state, explained by the service's records: versions 2..V each produced by exactly one
    // recorded change, and the state is the one the latest of them (V) recorded.
    const sim = h.sim.account(login)!;
    const changesOf = (recorded.get(login) ?? []).sort((a, b) => a.version - b.version);
    const versions = changesOf.map((x) => x.version);
    const wanted = Array.from({ length: sim.version - 1 }, (_, i) => i + 2);
    if (JSON.stringify(versions) !== JSON.stringify(wanted))
      versionsUnexplained.push(
        `${label}: mailstore v${sim.version}, recorded ${changesOf.map((x) => `v${x.version} ${x.what}`).join(', ') || 'none'}`,
      );
    const latest = changesOf.find((x) => x.version === sim.version);
    const expectedState = latest ?? { imap: false, pop3: false, what: 'none (as seeded)' };
    for (const proto of ['imap', 'pop3'] as const) {
      const e = expectedState[proto];
      if (e !== undefined && e !== sim.protocols[proto]) {
        stateNotLatestChange.push(
          `${label}: ${proto} ${sim.protocols[proto] ? 'open' : 'closed'} at v${sim.version}, latest record ${expectedState.what} says ${e ? 'open' : 'closed'}`,
        );
        break;
      }
    }
    // Where support acted last (its change is the latest), the state is the one support asked for last.
    const asked = log.support.filter((s) => s.login === login);
    const lastAsked = asked[asked.length - 1];
    if (lastAsked && latest?.what.startsWith('support.')) {
      const open = protocols.some((pr) => sim.protocols[pr]);
      if ((lastAsked.kind === 'enable') !== open)
        supportNotLast.push(
          `${label}: support asked ${asked.map((s) => s.kind).join(' then ')}, mailstore ${open ? 'open' : 'closed'} by ${latest.what} v${latest.version}`,
        );
    }
    // The service's view of the account is the mailstore's.
    const v = viewOf.get(login)!;
    if (
      v.imap_enabled !== sim.protocols.imap ||
      v.pop3_enabled !== sim.protocols.pop3 ||
      (v.mailstore_version ?? 1) !== sim.version
    ) {
      viewDiffers.push(
        `${label}${asked.length ? ' (support acted)' : ''}: service imap=${v.imap_enabled} pop3=${v.pop3_enabled} v${v.mailstore_version}, mailstore imap=${sim.protocols.imap} pop3=${sim.protocols.pop3} v${sim.version}`,
      );
    }
  }

  // The wave's calls as the mailstore saw them.
  const calls = h.sim.calls().filter((c) => c.endpoint === 'batch' && c.idempotencyKey?.includes(waveId));
  const forward = calls.filter((c) => c.idempotencyKey!.includes('/forward/'));

  // Invariant 6: held by support, or leaked and never reset with no live override, when the call started ⇒ not
  // opened by it. Lenient where the service cannot be strict (an enable or release counts from its start), strict
  // where it promises to be (a hold, a disable, a revoke from its answer; an expiry from its instant).
  const leakedAt = (login: string): number | undefined => {
    if (log.heldFromStart.has(login)) return -Infinity;
    return log.imports.find((x) => x.logins.includes(login))?.returnedAt;
  };
  const heldBySupport = (login: string, t: number): boolean => {
    const events = log.holds
      .filter((e) => e.login === login)
      .map((e) => (e.hold ? { at: e.returnedAt, on: true } : { at: e.startedAt, on: false }))
      .filter((e) => e.at < t)
      .sort((a, b) => a.at - b.at);
    return events.length > 0 && events[events.length - 1].on;
  };
  const overrideLive = (login: string, t: number): boolean => {
    const ends = [
      ...log.support.filter((s) => s.login === login && s.kind === 'disable').map((s) => s.returnedAt),
      ...log.holds.filter((e) => e.login === login && e.hold).map((e) => e.returnedAt),
      ...log.revokes.filter((r) => r.login === login).map((r) => r.returnedAt),
    ];
    return log.support.some(
      (s) =>
        s.login === login &&
        s.overrideExpiresAt !== undefined &&
        s.startedAt < t &&
        t < s.overrideExpiresAt &&
        !ends.some((end) => end > s.startedAt && end < t),
    );
  };
  const heldAt = (login: string, t: number): boolean => {
    if (heldBySupport(login, t)) return true;
    const since = leakedAt(login);
    if (since === undefined || t <= since) return false;
    return !overrideLive(login, t);
  };
  const openedWhileHeld: string[] = [];
  for (const c of forward)
    for (const login of c.applied)
      if (heldAt(login, c.startedAt))
        openedWhileHeld.push(`${login} by ${c.requestId} at +${Math.round(c.startedAt - log.t0)} ms`);
  const heldButApplied = members
    .filter((m) => m.reason === 'password_reset_required' || m.reason === 'held')
    .filter((m) => forward.some((c) => c.applied.includes(m.login)))
    .map((m) => m.login);

  // Invariant 3: no forward call starts while the wave is paused by ops.
  const callsWhilePaused = forward
    .filter((c) => log.paused.some((i) => c.startedAt > i.from && c.startedAt < i.to))
    .map((c) => `${c.requestId} at +${Math.round(c.startedAt - log.t0)} ms`);

  // Invariant 2: at most one applied change per account per direction.
  const appliedTwice: string[] = [];
  for (const dir of ['forward', 'rollback']) {
    const seen = new Map<string, number>();
    for (const c of calls.filter((c) => c.idempotencyKey!.includes(`/${dir}/`)))
      for (const a of c.applied) seen.set(a, (seen.get(a) ?? 0) + 1);
    for (const [a, n] of seen) if (n > 1) appliedTwice.push(`${a} ${dir} x${n}`);
  }

  return {
    versionsUnexplained: sample(versionsUnexplained),
    stateNotLatestChange: sample(stateNotLatestChange),
    supportNotLast: sample(supportNotLast),
    viewDiffers: sample(viewDiffers),
    duplicateSupportRecords: sample(duplicateSupportRecords),
    openedWhileHeld: sample(openedWhileHeld),
    heldButApplied: sample(heldButApplied),
    callsWhilePaused: sample(callsWhilePaused),
    appliedTwice: sample(appliedTwice),
  };
}

/** What `modelVsMailstore` reports when everything agrees. */
export function cleanModelReport(): Awaited<ReturnType<typeof modelVsMailstore>> {
  const none = { count: 0, first: [] };
  return {
    versionsUnexplained: none,
    stateNotLatestChange: none,
    supportNotLast: none,
    viewDiffers: none,
    duplicateSupportRecords: none,
    openedWhileHeld: none,
    heldButApplied: none,
    callsWhilePaused: none,
    appliedTwice: none,
  };
}
