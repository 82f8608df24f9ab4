import { DataSource } from 'typeorm';
import { decide, evaluateGate, Gate, GateInput, GateResult, SignalSample, WindowSummary } from '@app/domain';
import { CALL_FAILED_SQL } from '../engine/call-record';
import { WaveCommandsService } from '../waves/wave-commands.service';

interface ActiveWave {
  id: string;
  gates: Gate[];
}

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
  constructor(
    private readonly dataSource: DataSource,
    private readonly commands: WaveCommandsService,
  ) {}

  async evaluateAll(now = new Date()): Promise<GateRound[]> {
    const waves = await this.dataSource.query<ActiveWave[]>(
      `SELECT id, gates FROM waves WHERE state = 'running' AND jsonb_array_length(gates) > 0`,
    );
    const rounds: GateRound[] = [];
    for (const wave of waves) rounds.push(await this.evaluate(wave, now));
    return rounds;
  }

  private async evaluate(wave: ActiveWave, now: Date): Promise<GateRound> {
    const results: GateResult[] = [];
    for (const gate of wave.gates) results.push(evaluateGate(gate, await this.input(wave.id, gate), now));
    const decision = decide(results);
    await this.dataSource.query(`UPDATE waves SET gate_state = $2, gate_evaluated_at = $3 WHERE id = $1`, [
      wave.id,
      JSON.stringify(decision.detail),
      now,
    ]);
    if (decision.action !== 'none' && decision.pauseReason) {
      const detail = { gates: decision.detail, evaluatedAt: now.toISOString() };
      if (decision.action === 'pause') await this.commands.systemPause(wave.id, decision.pauseReason, detail);
      else await this.commands.halt(wave.id, decision.pauseReason, detail, decision.action === 'halt_and_rollback');
    }
    return { waveId: wave.id, action: decision.action, results };
  }

  private async input(waveId: string, gate: Gate): Promise<GateInput> {
    if (gate.metric === 'signal') {
      const sample = await this.latestSignal(gate.signal ?? gate.name, gate.cohort ?? null);
      const control = gate.relativeTo
        ? await this.latestSignal(gate.signal ?? gate.name, gate.relativeTo.cohort)
        : undefined;
      return { sample, control };
    }
    return { window: await this.window(waveId, gate.windowSeconds) };
  }

  /** Errors: 5xx and 503, timeouts and resets, permanent answers, and calls whose items came back failed. */
  private async window(waveId: string, windowSeconds: number): Promise<WindowSummary> {
    const [row] = await this.dataSource.query<{ calls: string; errors: string; p95: number | null }[]>(
      `SELECT count(*) AS calls,
              count(*) FILTER (WHERE ${CALL_FAILED_SQL} OR item_errors > 0) AS errors,
              percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95
         FROM mailstore_calls
        WHERE wave_id = $1 AND started_at > now() - ($2 || ' seconds')::interval`,
      [waveId, String(windowSeconds)],
    );
    return { calls: Number(row?.calls ?? 0), errors: Number(row?.errors ?? 0), p95LatencyMs: row?.p95 ?? null };
  }

  private async latestSignal(name: string, cohort: string | null): Promise<SignalSample | null> {
    const [row] = await this.dataSource.query<{ value: number; observed_at: Date; window_seconds: number }[]>(
      // `cohort = $2` / `cohort IS NULL` (not IS NOT DISTINCT FROM) so signals_lookup_idx serves it every second.
      cohort === null
        ? `SELECT value, observed_at, window_seconds FROM signals
            WHERE name = $1 AND cohort IS NULL ORDER BY observed_at DESC LIMIT 1`
        : `SELECT value, observed_at, window_seconds FROM signals
            WHERE name = $1 AND cohort = $2 ORDER BY observed_at DESC LIMIT 1`,
      cohort === null ? [name] : [name, cohort],
    );
    return row ? { value: row.value, observedAt: row.observed_at, windowSeconds: row.window_seconds } : null;
  }
}
