import { Sql } from './sql';
import { SqlParams } from './sql-params';

/*
 * The one writer of audit_log (append-only: the runtime role may only insert). Every row goes through the column
 * list below: rows the service knows in TypeScript through `audit`, rows a one-statement write derives from its own
 * rows (a batch's ledger, in the statement that settles it) through `auditRowsSql`.
 */

/** One audit_log row. `before`, `after` and `detail` are stored as JSON; a field left out is NULL. */
export interface AuditRecord {
  actor: string;
  action: string;
  waveId?: string | null;
  accountId?: number | null;
  login?: string | null;
  operationId?: string | null;
  reason?: string | null;
  ticket?: string | null;
  before?: unknown;
  after?: unknown;
  detail?: unknown;
}

type Field = keyof AuditRecord;

/** Each field's column and type, in the table's order. */
const COLUMNS: Record<Field, { column: string; type: string }> = {
  actor: { column: 'actor', type: 'text' },
  action: { column: 'action', type: 'text' },
  waveId: { column: 'wave_id', type: 'uuid' },
  accountId: { column: 'account_id', type: 'bigint' },
  login: { column: 'login', type: 'text' },
  operationId: { column: 'operation_id', type: 'uuid' },
  reason: { column: 'reason', type: 'text' },
  ticket: { column: 'ticket', type: 'text' },
  before: { column: 'before', type: 'jsonb' },
  after: { column: 'after', type: 'jsonb' },
  detail: { column: 'detail', type: 'jsonb' },
};
const FIELDS = Object.keys(COLUMNS) as Field[];
const JSON_FIELDS = new Set<Field>(['before', 'after', 'detail']);

/** Writes audit rows, one or many, in one statement (one parameter per column, whatever their number). */
export async function audit(sql: Sql, records: AuditRecord | readonly AuditRecord[]): Promise<void> {
  const rows: readonly AuditRecord[] = Array.isArray(records) ? records : [records as AuditRecord];
  if (!rows.length) return;
  const p = new SqlParams();
  const columns = FIELDS.map((f) => [COLUMNS[f].column, [COLUMNS[f].type, rows.map((r) => stored(f, r[f]))]] as const);
  const from = p.unnest('r', Object.fromEntries(columns));
  const row = Object.fromEntries(FIELDS.map((f) => [f, `r.${COLUMNS[f].column}`])) as AuditRowSql;
  await sql(auditRowsSql(row, `FROM ${from}`), p.values);
}

/** An audit row as SQL expressions over a statement's own rows (`actor` and `action` at least). */
export type AuditRowSql = Partial<Record<Field, string>> & { actor: string; action: string };

/**
 * `INSERT INTO audit_log … SELECT …` for a data-modifying CTE: one audit row per row of `from` (a FROM clause,
 * with its WHERE), each field an SQL expression over it. Fields left out are NULL.
 */
export function auditRowsSql(row: AuditRowSql, from: string): string {
  const fields = FIELDS.filter((f) => row[f] !== undefined);
  return `INSERT INTO audit_log (${fields.map((f) => COLUMNS[f].column).join(', ')})
       SELECT ${fields.map((f) => row[f]).join(', ')}
         ${from}`;
}

function stored(field: Field, value: unknown): unknown {
  if (JSON_FIELDS.has(field)) return value === undefined ? null : JSON.stringify(value);
  return value ?? null;
}
