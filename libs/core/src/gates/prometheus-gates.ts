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
 * How long a gate round waits for a measurement under way before it reads the analysis as it stands: a query that
 * takes longer goes on and is recorded when it ends, while the round acts on the wave's other gates.
 */
const ROUND_WAIT_MS = 500;

/**
 * The measured gates of one wave's run (issue 19): each prometheus gate whose interval has come is measured once
 * (whichever worker gets there first writes the interval's row), then every such gate's analysis is read back in one
 * statement. Returns each gate's analysis for evaluateGate.
 */
export class PrometheusGates {
  /** Measurements under way in this process, by run, gate and interval: one query each. */
  private readonly underWay = new Map<string, Promise<void>>();

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

  /**
   * Takes the interval's measurement unless it is taken, waiting for it at most ROUND_WAIT_MS: a Prometheus that hangs
   * (up to PROMETHEUS_TIMEOUT_MS) must not hold up the round's other gates and waves. A failure within the wait is the
   * round's; later, the next round's measurement says it.
   */
  private async measureWhenDue(
    sql: Sql,
    wave: { id: string; generation: number },
    gate: Gate,
    now: Date,
    signal?: AbortSignal,
  ): Promise<void> {
    const slot = Math.floor(now.getTime() / 1000 / (gate.intervalSeconds ?? 1));
    const key = { waveId: wave.id, generation: wave.generation, gate: gate.name, slot };
    const id = `${key.waveId}/${key.generation}/${key.gate}/${key.slot}`;
    let measuring = this.underWay.get(id);
    if (!measuring) {
      measuring = (async () => {
        if (await this.measurements.taken(sql, key)) return;
        await this.measurements.record(sql, key, await this.take(gate, signal), new Date());
      })().finally(() => this.underWay.delete(id));
      measuring.catch(() => undefined); // past the wait, nobody awaits it
      this.underWay.set(id, measuring);
    }
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, ROUND_WAIT_MS)));
    try {
      await Promise.race([measuring, waited]);
    } finally {
      clearTimeout(timer);
    }
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
