import { Outcome } from '@app/mailstore';
import { Sql } from '../db/sql';
import { callHttpStatus, callOutcomeLabel } from '../engine/call-record';

/** The support lane's calls go to the same log as the waves' (latency and error-rate metrics). */
export async function recordCallRow(
  sql: Sql,
  call: { operationId: string; startedAt: Date; latencyMs: number; outcome: Outcome<unknown> },
): Promise<void> {
  const o = call.outcome;
  await sql(
    `INSERT INTO mailstore_calls (operation_id, started_at, latency_ms, http_status, outcome, items, item_errors)
     VALUES ($1, $2, $3, $4, $5, 1, $6)`,
    [
      call.operationId,
      call.startedAt,
      Math.round(call.latencyMs),
      callHttpStatus(o),
      callOutcomeLabel(o),
      o.kind === 'ok' ? 0 : 1,
    ],
  );
}
