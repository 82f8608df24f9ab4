import { DataSource } from 'typeorm';
import {
  AnalysisInput,
  checkMeasurement,
  decide,
  evaluateGate,
  Gate,
  GateInput,
  GateResult,
  LoginInput,
} from '@app/domain';
import { Sql, sqlOfDataSource } from '../db/sql';
import { WaveCommandsService } from '../waves/wave-commands.service';
import { GatedWave, GateRepository } from './gate.repository';
import { LoginGates } from './login-gates';
import { PrometheusGates, PrometheusSettings } from './prometheus-gates';

/** What one wave's measured inputs came to this round (read once per wave, before its gates are evaluated). */
interface RoundInputs {
  logins: Map<string, LoginInput>;
  analyses: Map<string, AnalysisInput>;
}

export interface GateRound {
  waveId: string;
  action: string;
  results: GateResult[];
}

/**
 * Evaluates every running wave's gates (run every second by each worker; commands are conditional, so two
 * workers evaluating at once cannot act twice). Mailstore metrics read our own record of mailstore calls
 * (indexed by wave and time); login metrics the mail server's login events as counts (LoginGates); signals the
 * latest pushed sample (indexed by name, cohort, time); prometheus gates their measurements, taken once per interval
 * (PrometheusGates). A breach acts through the lifecycle commands (pause, halt, halt and roll back) with the gate
 * values in the wave's status and the audit log; a stale signal, a silent login stream or a query past its limits
 * pauses as inconclusive.
 */
export class GateEvaluator {
  private readonly sql: Sql;

  private readonly prometheus: PrometheusGates;

  constructor(
    dataSource: DataSource,
    private readonly commands: WaveCommandsService,
    prometheus: PrometheusSettings,
    private readonly repo = new GateRepository(),
    private readonly logins = new LoginGates(),
  ) {
    this.sql = sqlOfDataSource(dataSource);
    this.prometheus = new PrometheusGates(prometheus);
  }

  async evaluateAll(now = new Date()): Promise<GateRound[]> {
    const waves = await this.repo.gatedWaves(this.sql);
    const rounds: GateRound[] = [];
    for (const wave of waves) rounds.push(await this.evaluate(wave, now));
    return rounds;
  }

  private async evaluate(wave: GatedWave, now: Date): Promise<GateRound> {
    const round: RoundInputs = {
      logins: await this.logins.inputs(this.sql, wave.id, wave.gates, now),
      analyses: await this.prometheus.analyse(this.sql, wave, now),
    };
    const results: GateResult[] = [];
    for (const gate of wave.gates) results.push(evaluateGate(gate, await this.input(wave.id, gate, round), now));
    const decision = decide(results);
    await this.repo.saveVerdict(this.sql, wave.id, decision.detail, now);
    if (decision.action !== 'none' && decision.pauseReason) {
      const detail = { gates: decision.detail, evaluatedAt: now.toISOString() };
      if (decision.action === 'pause') await this.commands.systemPause(wave.id, decision.pauseReason, detail);
      else await this.commands.halt(wave.id, decision.pauseReason, detail, decision.action === 'halt_and_rollback');
    }
    return { waveId: wave.id, action: decision.action, results };
  }

  /**
   * What a wave's gates would say now, acting on nothing and writing nothing (GET /waves/{id}/gate-check, `reopen
   * preflight`): the same inputs and rules as a round. Before a start it tells whether a gate's input is there at all:
   * a stale signal or a silent login stream is `inconclusive`, and would pause the wave as soon as it runs. A
   * Prometheus gate's query is tried once, all of them at once (checkMeasurement: an error or no data is inconclusive),
   * and the measurement kept nowhere: a run's analysis is the workers' (one measurement per interval).
   */
  async check(waveId: string, now = new Date()): Promise<GateResult[] | null> {
    const gates = await this.repo.waveGates(this.sql, waveId);
    if (gates === null) return null;
    const round: RoundInputs = { logins: await this.logins.inputs(this.sql, waveId, gates, now), analyses: new Map() };
    const trials = new Map(
      await Promise.all(
        gates
          .filter((gate) => gate.metric === 'prometheus')
          .map(async (gate) => [gate.name, checkMeasurement(gate, await this.prometheus.take(gate))] as const),
      ),
    );
    const results: GateResult[] = [];
    for (const gate of gates) {
      results.push(trials.get(gate.name) ?? evaluateGate(gate, await this.input(waveId, gate, round), now));
    }
    return results;
  }

  private async input(waveId: string, gate: Gate, round: RoundInputs): Promise<GateInput> {
    if (gate.metric === 'login_failures_per_minute' || gate.metric === 'login_failure_ratio') {
      return { logins: round.logins.get(gate.name) };
    }
    if (gate.metric === 'prometheus') return { analysis: round.analyses.get(gate.name) };
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
