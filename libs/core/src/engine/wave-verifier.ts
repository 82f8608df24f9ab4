import { DataSource } from 'typeorm';
import { Mailstore, ProtocolSwitches } from '@app/mailstore';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { audit } from '../db/audit-log';
import { withTransaction } from '../db/transaction';

interface VerificationResult {
  dueAt: string;
  sample: number;
  checked?: number;
  mismatches?: { login: string; protocols: ProtocolSwitches }[];
  done?: boolean;
}

/**
 * Read-back when the mailstore says propagation is eventual (capabilities.propagation): once every member is
 * terminal, the wave waits `maxSeconds` after its last batch, then reads back a random sample of the accounts it
 * enabled with GET (the contract has no batch read, so a sample keeps this per-wave, not per-account). The wave
 * completes only when the sample shows the change; a mismatch pauses it (gate:propagation) for ops to look at.
 */
export class WaveVerifier {
  constructor(
    private readonly dataSource: DataSource,
    private readonly client: Mailstore,
    private readonly commands: WaveCommandsService,
    private readonly sampleSize = 50,
  ) {}

  /** True when the wave may complete now; otherwise plans the read-back (idempotent) and returns false. */
  async readyToComplete(waveId: string): Promise<boolean> {
    const caps = this.client.cachedCapabilities();
    if (!caps || caps.propagation.mode === 'immediate' || caps.propagation.maxSeconds <= 0) return true;
    const [w] = await this.dataSource.query<{ verification: VerificationResult | null }[]>(
      `SELECT verification FROM waves WHERE id = $1`,
      [waveId],
    );
    if (w?.verification?.done && !w.verification.mismatches?.length) return true;
    await this.dataSource.query(
      `UPDATE waves
          SET verify_due_at = COALESCE((SELECT max(completed_at) FROM wave_batches WHERE wave_id = $1 AND kind = 'forward'), now())
                              + ($2 || ' seconds')::interval,
              verification = jsonb_build_object('sample', $3::int)
        WHERE id = $1 AND verify_due_at IS NULL`,
      [waveId, String(caps.propagation.maxSeconds), this.sampleSize],
    );
    return false;
  }

  /** Reads back the sample of a wave whose delay has passed; completes or pauses it. */
  async verify(waveId: string): Promise<'completed' | 'paused' | 'retry_later'> {
    const [wave] = await this.dataSource.query<{ protocols: ('imap' | 'pop3')[]; verify_due_at: Date }[]>(
      `SELECT protocols, verify_due_at FROM waves WHERE id = $1 AND state = 'running'`,
      [waveId],
    );
    if (!wave) return 'retry_later';
    const sample = await this.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY random() LIMIT $2`,
      [waveId, this.sampleSize],
    );
    const mismatches: VerificationResult['mismatches'] = [];
    for (const { login } of sample) {
      const read = await this.client.getAccess(login, { requestId: `verify-${waveId}` });
      if (read.kind !== 'ok') return 'retry_later'; // no answer is no evidence either way: try again later
      if (!wave.protocols.every((p) => read.value.protocols[p] === true))
        mismatches.push({ login, protocols: read.value.protocols });
    }
    const result: VerificationResult = {
      dueAt: wave.verify_due_at.toISOString(),
      sample: this.sampleSize,
      checked: sample.length,
      mismatches,
      done: true,
    };
    // The result and its audit row together: a crash between them would complete the wave unaudited.
    await withTransaction(this.dataSource, async ({ sql }) => {
      await sql(`UPDATE waves SET verification = $2 WHERE id = $1`, [waveId, JSON.stringify(result)]);
      await audit(sql, { actor: 'engine', action: 'wave.verified', waveId, detail: result });
    });
    if (mismatches.length) {
      await this.commands.systemPause(waveId, 'gate:propagation', { verification: result });
      return 'paused';
    }
    await this.commands.complete(waveId);
    return 'completed';
  }
}
