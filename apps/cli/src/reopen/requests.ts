/** The API paths and bodies the `reopen` commands send (program.ts maps each command to one). */

export const path = (...parts: string[]) => `/${parts.map(encodeURIComponent).join('/')}`;

export function withQuery(base: string, query: Record<string, string | undefined>): string {
  const q = new URLSearchParams(
    Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
  return q.size ? `${base}?${q.toString()}` : base;
}

export interface AuditOptions {
  wave?: string;
  login?: string;
  from?: string;
  to?: string;
  action?: string;
  commands?: boolean;
  limit?: number;
  cursor?: string;
}

export function auditPath(o: AuditOptions): string {
  return withQuery('/audit', {
    waveId: o.wave,
    login: o.login,
    from: o.from,
    to: o.to,
    action: o.action,
    kind: o.commands ? 'commands' : undefined,
    limit: o.limit?.toString(),
    cursor: o.cursor,
  });
}

export function supportBody(o: { reason: string; ticket: string; protocols?: string[]; override?: boolean }) {
  return {
    reason: o.reason,
    ticket: o.ticket,
    ...(o.protocols && { protocols: o.protocols }),
    ...(o.override && { override: true }),
  };
}
