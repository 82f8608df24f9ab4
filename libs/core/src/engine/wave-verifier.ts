import { DataSource } from 'typeorm';
import { readBackMismatch } from '@app/domain';
import { Mailstore } from '@app/mailstore';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { Sql, sqlOfDataSource } from '../db/sql';
import { withTransaction } from '../db/transaction';
import { VerificationResult, WaveVerificationRepository } from './wave-verification.repository';

/**
 * Read-back when the mailstore says propagation is eventual (capabilities.propagation): once every member is
 * terminal, the wave waits `maxSeconds` after its last batch, then reads back a random sample of the accounts it
 * enabled with GET (the contract has no batch read, so a sample keeps this per-wave, not per-account). The wave
 * completes only when the sample shows the change (an account written again since, e.g. closed by the per-account
 * reaction, shows that later change: readBackMismatch); a mismatch pauses it (gate:propagation) for ops to look at.
 */
export class WaveVerifier {
  private readonly sql: Sql;

  constructor(
    private readonly dataSource: DataSource,
    private readonly client: Mailstore,
    private readonly commands: WaveCommandsService,
    private readonly sampleSize = 50,
    private readonly repo = new WaveVerificationRepository(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  /** True when the wave may complete now; otherwise plans the read-back (idempotent) and returns false. */
  async readyToComplete(waveId: string): Promise<boolean> {
    const caps = this.client.cachedCapabilities();
    if (!caps || caps.propagation.mode === 'immediate' || caps.propagation.maxSeconds <= 0) return true;
    const verification = await this.repo.verification(this.sql, waveId);
    if (verification?.done && !verification.mismatches?.length) return true;
    await this.repo.plan(this.sql, waveId, caps.propagation.maxSeconds, this.sampleSize);
    return false;
  }

  /** Reads back the sample of a wave whose delay has passed; completes or pauses it. */
  async verify(waveId: string): Promise<'completed' | 'paused' | 'retry_later'> {
    const wave = await this.repo.running(this.sql, waveId);
    if (!wave) return 'retry_later';
    const sample = await this.repo.sample(this.sql, waveId, this.sampleSize);
    const mismatches: VerificationResult['mismatches'] = [];
    for (const { login, resultVersion } of sample) {
      const read = await this.client.getAccess(login, { requestId: `verify-${waveId}` });
      if (read.kind !== 'ok') return 'retry_later'; // no answer is no evidence either way: try again later
      // An account written again since (the per-account reaction, support) shows that change: not a mismatch.
      if (readBackMismatch(wave.protocols, read.value, resultVersion)) {
        mismatches.push({ login, protocols: read.value.protocols });
      }
    }
    const result: VerificationResult = {
      dueAt: wave.verifyDueAt.toISOString(),
      sample: this.sampleSize,
      checked: sample.length,
      mismatches,
      done: true,
    };
    // The result and its audit row together: a crash between them would complete the wave unaudited.
    await withTransaction(this.dataSource, ({ sql }) => this.repo.save(sql, waveId, result));
    if (mismatches.length) {
      await this.commands.systemPause(waveId, 'gate:propagation', { verification: result });
      return 'paused';
    }
    await this.commands.complete(waveId);
    return 'completed';
  }
}
