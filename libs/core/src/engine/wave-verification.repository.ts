import { Protocol } from '@app/domain';
import { ProtocolSwitches } from '@app/mailstore';
import { audit } from '../db/audit-log';
import { Sql } from '../db/sql';

/** A wave's read-back, as stored on its row (`waves.verification`). */
export interface VerificationResult {
  dueAt: string;
  sample: number;
  checked?: number;
  mismatches?: { login: string; protocols: ProtocolSwitches }[];
  done?: boolean;
}

/** The statements of a wave's read-back (WaveVerifier). */
export class WaveVerificationRepository {
  /** The stored read-back of a wave (null when none is planned). */
  async verification(sql: Sql, waveId: string): Promise<VerificationResult | null> {
    const [w] = await sql<{ verification: VerificationResult | null }>(`SELECT verification FROM waves WHERE id = $1`, [
      waveId,
    ]);
    return w?.verification ?? null;
  }

  /** Plans the read-back (once): due `delaySeconds` after the wave's last forward batch, of `sample` accounts. */
  async plan(sql: Sql, waveId: string, delaySeconds: number, sample: number): Promise<void> {
    await sql(
      `UPDATE waves
          SET verify_due_at = COALESCE((SELECT max(completed_at) FROM wave_batches WHERE wave_id = $1 AND kind = 'forward'), now())
                              + ($2 || ' seconds')::interval,
              verification = jsonb_build_object('sample', $3::int)
        WHERE id = $1 AND verify_due_at IS NULL`,
      [waveId, String(delaySeconds), sample],
    );
  }

  /** A running wave's protocols and read-back due time (null when it no longer runs). */
  async running(sql: Sql, waveId: string): Promise<{ protocols: Protocol[]; verifyDueAt: Date } | null> {
    const [w] = await sql<{ protocols: Protocol[]; verify_due_at: Date }>(
      `SELECT protocols, verify_due_at FROM waves WHERE id = $1 AND state = 'running'`,
      [waveId],
    );
    return w ? { protocols: w.protocols, verifyDueAt: w.verify_due_at } : null;
  }

  /** A random sample of the logins a wave enabled, each with the version its write made (null: not recorded). */
  async sample(sql: Sql, waveId: string, size: number): Promise<{ login: string; resultVersion: number | null }[]> {
    const rows = await sql<{ login: string; result_version: number | null }>(
      `SELECT a.login, m.result_version FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY random() LIMIT $2`,
      [waveId, size],
    );
    return rows.map((r) => ({ login: r.login, resultVersion: r.result_version }));
  }

  /** Stores the result with its audit row (run it in one transaction: unaudited, a wave would complete). */
  async save(sql: Sql, waveId: string, result: VerificationResult): Promise<void> {
    await sql(`UPDATE waves SET verification = $2 WHERE id = $1`, [waveId, JSON.stringify(result)]);
    await audit(sql, { actor: 'engine', action: 'wave.verified', waveId, detail: result });
  }
}
