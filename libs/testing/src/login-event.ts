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
