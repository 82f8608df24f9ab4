import { BatchKind } from '@app/domain';
import { Sql } from '../db/sql';

/*
 * A pump's hold on its concurrency slot (wave, kind, slot), by a lease in PostgreSQL: at most one pump runs a slot,
 * whatever the queue does (a Redis wipe makes the reconciler add every pump job again while the old pumps run).
 * `holder` is unique per pump run, so a pump that lost its slot (frozen past the lease) learns it at its next renewal.
 */

export interface PumpSlot {
  waveId: string;
  kind: BatchKind;
  slot: number;
  holder: string;
}

/** The statements of a pump's slot lease. */
export class PumpSlotRepository {
  /**
   * Takes the slot if it is free, expired or already ours, and (re)starts its lease. Returns 0 when held, else how
   * long the other holder's lease still runs (ms).
   */
  async hold(sql: Sql, s: PumpSlot, leaseMs: number): Promise<number> {
    const [row] = await sql<{ holder: string; remaining_ms: number }>(
      `WITH taken AS (
         INSERT INTO wave_pump_slots (wave_id, kind, slot, holder, lease_until)
         VALUES ($1, $2, $3, $4, now() + ($5 || ' milliseconds')::interval)
         ON CONFLICT (wave_id, kind, slot) DO UPDATE SET holder = EXCLUDED.holder, lease_until = EXCLUDED.lease_until
          WHERE wave_pump_slots.holder = EXCLUDED.holder OR wave_pump_slots.lease_until < now()
         RETURNING holder)
       SELECT holder, 0::float8 AS remaining_ms FROM taken
       UNION ALL
       SELECT holder, GREATEST(1, EXTRACT(EPOCH FROM lease_until - now()) * 1000)::float8 FROM wave_pump_slots
        WHERE wave_id = $1 AND kind = $2 AND slot = $3 AND NOT EXISTS (SELECT 1 FROM taken)`,
      [s.waveId, s.kind, s.slot, s.holder, String(leaseMs)],
    );
    return row ? Math.ceil(Number(row.remaining_ms)) : 1;
  }

  /** Renews the lease if the slot is still ours; false if another pump took it (ours had expired). */
  async renew(sql: Sql, s: PumpSlot, leaseMs: number): Promise<boolean> {
    const rows = await sql(
      `UPDATE wave_pump_slots SET lease_until = now() + ($5 || ' milliseconds')::interval
        WHERE wave_id = $1 AND kind = $2 AND slot = $3 AND holder = $4 RETURNING 1`,
      [s.waveId, s.kind, s.slot, s.holder, String(leaseMs)],
    );
    return rows.length > 0;
  }

  /** Frees the slot at once for the next pump (only if still ours). */
  async release(sql: Sql, s: PumpSlot): Promise<void> {
    await sql(`DELETE FROM wave_pump_slots WHERE wave_id = $1 AND kind = $2 AND slot = $3 AND holder = $4`, [
      s.waveId,
      s.kind,
      s.slot,
      s.holder,
    ]);
  }
}
