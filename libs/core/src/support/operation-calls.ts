import { EntityManager } from 'typeorm';
import { Outcome } from '@app/mailstore';

/** The support lane's calls go to the same log as the waves' (latency and error-rate metrics). */
export async function recordCallRow(
  m: EntityManager,
  call: { operationId: string; startedAt: Date; latencyMs: number; outcome: Outcome<unknown> },
): Promise<void> {
  const o = call.outcome;
  await m.query(
    `INSERT INTO mailstore_calls (operation_id, started_at, latency_ms, http_status, outcome, items, item_errors)
     VALUES ($1, $2, $3, $4, $5, 1, $6)`,
    [
      call.operationId,
      call.startedAt,
      Math.round(call.latencyMs),
      'status' in o ? (o.status ?? null) : null,
      o.kind === 'retryable' || o.kind === 'permanent' ? `${o.kind}:${o.code}` : o.kind,
      o.kind === 'ok' ? 0 : 1,
    ],
  );
}
