import {
  AnalysisInput,
  analysisLimits,
  assessAnalysis,
  Conditions,
  Gate,
  measure,
  Measurement,
  NO_MEASUREMENTS,
  parseCondition,
} from '@app/domain';
import { Sql } from '../db/sql';
import { GateMeasurementRepository } from './gate-measurement.repository';
import { queryPrometheus } from './prometheus-query';

export interface PrometheusSettings {
  /** PROMETHEUS_URL; unset: a prometheus gate is inconclusive (and refused when a wave is created). */
  url?: string;
  timeoutMs: number;
}

/**
 * The measured gates of one wave's run (issue 19): each prometheus gate whose interval has come is measured once
 * (whichever worker gets there first writes the interval's row), then every such gate's analysis is read back in one
 * statement. Returns each gate's analysis for evaluateGate.
 */
export class PrometheusGates {
  constructor(
    private readonly settings: PrometheusSettings,
    private readonly measurements = new GateMeasurementRepository(),
  ) {}

  async analyse(
    sql: Sql,
    wave: { id: string; generation: number; gates: readonly Gate[] },
    now: Date,
    signal?: AbortSignal,
  ): Promise<Map<string, AnalysisInput>> {
    const gates = wave.gates.filter((g) => g.metric === 'prometheus');
    const result = new Map<string, AnalysisInput>();
    if (!gates.length) return result;
    await Promise.all(gates.map((gate) => this.measureWhenDue(sql, wave, gate, now, signal)));
    const runs = await this.measurements.runs(sql, wave.id, wave.generation);
    for (const gate of gates) {
      const run = runs.get(gate.name);
      result.set(gate.name, {
        last: run?.last ?? null,
        verdict: assessAnalysis(run?.counts ?? NO_MEASUREMENTS, analysisLimits(gate)),
      });
    }
    return result;
  }

  private async measureWhenDue(
    sql: Sql,
    wave: { id: string; generation: number },
    gate: Gate,
    now: Date,
    signal?: AbortSignal,
  ): Promise<void> {
    const slot = Math.floor(now.getTime() / 1000 / (gate.intervalSeconds ?? 1));
    const key = { waveId: wave.id, generation: wave.generation, gate: gate.name, slot };
    if (await this.measurements.taken(sql, key)) return;
    await this.measurements.record(sql, key, await this.take(gate, signal), new Date());
  }

  /** One measurement of the gate now: its query, read with its conditions. Records nothing (a check's trial). */
  async take(gate: Gate, signal?: AbortSignal): Promise<Measurement> {
    const result = this.settings.url
      ? await queryPrometheus(gate.query ?? '', {
          baseUrl: this.settings.url,
          timeoutMs: this.settings.timeoutMs,
          signal,
        })
      : ({ kind: 'error', message: 'PROMETHEUS_URL is not set' } as const);
    return measure(result, conditionsOf(gate));
  }
}

/** The gate's conditions, parsed (validated when the wave was created: a parse error here is a bug). */
function conditionsOf(gate: Gate): Conditions {
  const parse = (text: string | undefined) => {
    if (text === undefined) return undefined;
    const parsed = parseCondition(text);
    if (typeof parsed === 'string') throw new Error(`gate ${gate.name}: a condition that passed validation: ${parsed}`);
    return parsed;
  };
  return { successCondition: parse(gate.successCondition), failureCondition: parse(gate.failureCondition) };
}
