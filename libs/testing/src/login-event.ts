import {
  LOGIN_INGEST_DEFAULTS,
  LoginCountRepository,
  LoginIngestService,
  LoginReaction,
  recloseThroughSupport,
} from '@app/core';
import type { EngineHarness } from './engine-harness';

/**
 * One login as Dovecot's `event_exporter` posts it (`auth_request_finished`, JSON): a failure has no `success` field
 * at all, a success says `yes`; each event its own session.
 */
export function dovecotLogin(
  login: string,
  opts: { ok: boolean; ip?: string; at?: Date; service?: 'imap' | 'pop3' },
): Record<string, unknown> {
  return {
    event: 'auth_request_finished',
    end_time: (opts.at ?? new Date()).toISOString(),
    fields: {
      service: opts.service ?? 'imap',
      original_user: login,
      user: login,
      remote_ip: opts.ip ?? '203.0.113.7',
      session: `s${Math.random()}`,
      ...(opts.ok ? { success: 'yes' } : {}),
    },
  };
}

/** The logins of the first `n` members a wave enabled, once it has enabled that many. */
export async function enabledLogins(h: EngineHarness, waveId: string, n: number): Promise<string[]> {
  await h.untilCounters(waveId, (c) => (c.enabled ?? 0) >= n, { timeoutMs: 20_000 });
  const rows = await h.db.dataSource.query<{ login: string }[]>(
    `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
      WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY m.seq LIMIT $2`,
    [waveId, n],
  );
  return rows.map((r) => r.login);
}

/** `n` logins of the cohort (accounts no wave is about to open: the stream's other traffic). */
export async function cohortLogins(h: EngineHarness, cohort: string, n: number): Promise<string[]> {
  const rows = await h.db.dataSource.query<{ login: string }[]>(
    `SELECT login FROM accounts WHERE cohorts = ARRAY[$1]::text[] ORDER BY id LIMIT $2`,
    [cohort, n],
  );
  return rows.map((r) => r.login);
}

/** A login-event intake whose per-account reaction closes accounts through the harness's support lane. */
export function reactingIngest(h: EngineHarness): LoginIngestService {
  const reaction = new LoginReaction(h.db.dataSource, (c) => recloseThroughSupport(h.support(), c), 1000);
  return new LoginIngestService(h.db.dataSource, new LoginCountRepository(), LOGIN_INGEST_DEFAULTS, reaction);
}
