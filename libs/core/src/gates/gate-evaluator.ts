import { DataSource } from 'typeorm';
import { decide, evaluateGate, Gate, GateInput, GateResult } from '@app/domain';
import { Sql, sqlOfDataSource } from '../db/sql';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { GatedWave, GateRepository } from './gate.repository';

export interface GateRound {
  waveId: string;
  action: string;
  results: GateResult[];
}

/**
 * Evaluates every running wave's gates (run every second by each worker; commands are conditional, so two
 * workers evaluating at once cannot act twice). Built-in metrics read our own record of mailstore calls
 * (indexed by wave and time); signals read the latest pushed sample (indexed by name, cohort, time).
 * A breach acts through the lifecycle commands (pause, halt, halt and roll back) with the gate values in the
 * wave's status and the audit log; a stale signal pauses as inconclusive.
 */
export class GateEvaluator {
  private readonly sql: Sql;

  constructor(
    dataSource: DataSource,
    private readonly commands: WaveCommandsService,
    private readonly repo = new GateRepository(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
  }

  async evaluateAll(now = new Date()): Promise<GateRound[]> {
    const waves = await this.repo.gatedWaves(this.sql);
    const rounds: GateRound[] = [];
    for (const wave of waves) rounds.push(await this.evaluate(wave, now));
    return rounds;
  }

  private async evaluate(wave: GatedWave, now: Date): Promise<GateRound> {
    const results: GateResult[] = [];
    for (const gate of wave.gates) results.push(evaluateGate(gate, await this.input(wave.id, gate), now));
    const decision = decide(results);
    await this.repo.saveVerdict(this.sql, wave.id, decision.detail, now);
    if (decision.action !== 'none' && decision.pauseReason) {
      const detail = { gates: decision.detail, evaluatedAt: now.toISOString() };
      if (decision.action === 'pause') await this.commands.systemPause(wave.id, decision.pauseReason, detail);
      else await this.commands.halt(wave.id, decision.pauseReason, detail, decision.action === 'halt_and_rollback');
    }
    return { waveId: wave.id, action: decision.action, results };
  }

  private async input(waveId: string, gate: Gate): Promise<GateInput> {
    if (gate.metric === 'signal') {
      const name = gate.signal ?? gate.name;
      const sample = await this.repo.latestSignal(this.sql, name, gate.cohort ?? null);
      const control = gate.relativeTo
        ? await this.repo.latestSignal(this.sql, name, gate.relativeTo.cohort)
        : undefined;
      return { sample, control };
    }
    return { window: await this.repo.callWindow(this.sql, waveId, gate.windowSeconds) };
  }
}
