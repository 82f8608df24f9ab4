import type { GateAction, GateResult } from './gates';
import type { PauseReason, WaveCommand } from './wave-state';

/** What the gate evaluator does to the wave after one round of evaluation. */
export interface GateDecision {
  action: 'none' | GateAction;
  /** Stored as the wave's status reason: the first (in gate order) of the gates behind `action`. */
  pauseReason: PauseReason | null;
  /**
   * Wave commands to apply, in order: [] | ['gate_pause'] | ['halt'] | ['halt', 'rollback']. Each goes through
   * `transition`; one that is illegal in the current state (halting a wave already halted) is simply skipped.
   */
  commands: WaveCommand[];
  breached: GateResult[];
  inconclusive: GateResult[];
  /** Every gate with its status and values: the audit entry's detail, so the decision can be re-read later. */
  detail: Pick<GateResult, 'gate' | 'status' | 'value' | 'threshold' | 'control' | 'reason'>[];
}

const RANK: Record<GateDecision['action'], number> = { none: 0, pause: 1, halt: 2, halt_and_rollback: 3 };
const COMMANDS: Record<GateDecision['action'], WaveCommand[]> = {
  none: [],
  pause: ['gate_pause'],
  halt: ['halt'],
  halt_and_rollback: ['halt', 'rollback'],
};

/**
 * The strongest action among breaches (halt_and_rollback > halt > pause); an inconclusive gate counts as a pause
 * whatever its own action (missing data is not proof of harm, but it is no licence to go on either).
 * insufficient_data does not stop the wave: the window is simply too young to judge.
 * On a tie a breach names the reason before an inconclusive gate: it is the more specific explanation.
 */
export function decide(results: readonly GateResult[]): GateDecision {
  const breached = results.filter((r) => r.status === 'breached');
  const inconclusive = results.filter((r) => r.status === 'inconclusive');
  const candidates: { action: GateDecision['action']; reason: PauseReason }[] = [
    ...breached.map((r) => ({ action: r.action, reason: `gate:${r.gate}` as const })),
    ...inconclusive.map((r) => ({ action: 'pause' as const, reason: `inconclusive:${r.gate}` as const })),
  ];
  let strongest: (typeof candidates)[number] | undefined;
  for (const candidate of candidates) {
    if (strongest === undefined || RANK[candidate.action] > RANK[strongest.action]) strongest = candidate;
  }
  const action = strongest?.action ?? 'none';
  return {
    action,
    pauseReason: strongest?.reason ?? null,
    commands: COMMANDS[action],
    breached,
    inconclusive,
    detail: results.map(({ gate, status, value, threshold, control, reason }) => ({
      gate,
      status,
      value,
      threshold,
      control,
      reason,
    })),
  };
}
