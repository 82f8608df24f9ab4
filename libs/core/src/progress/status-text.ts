import { UNDECIDED_OTHER_WRITER, WaveState } from '@app/domain';
import { GateView } from './progress.types';

export interface StatusInput {
  state: WaveState;
  statusReason: string | null;
  statusDetail: Record<string, unknown> | null;
  startAt: Date | null;
  bakeUntil: Date | null;
  step: { index: number; count: number; percent: number };
  gates: readonly GateView[];
  now: Date;
}

/** One sentence for dashboards: why the wave is in its state (the machine-readable reason stays beside it). */
export function describeStatus(s: StatusInput): string {
  const reason = s.statusReason;
  const stepText = s.step.count > 1 ? `, step ${s.step.index + 1} of ${s.step.count} (${s.step.percent} %)` : '';
  if (reason?.startsWith('gate:') || reason?.startsWith('inconclusive:')) {
    const gate = reason.slice(reason.indexOf(':') + 1);
    const why = gateReason(s.statusDetail, gate) ?? s.gates.find((g) => g.name === gate)?.reason;
    const verb = s.state === 'halted' ? 'halted' : 'paused';
    const what = reason.startsWith('gate:') ? `gate ${gate} breached` : `gate ${gate} has no fresh data`;
    return `${verb}: ${what}${why ? ` (${why})` : ''}`;
  }
  switch (s.state) {
    case 'draft':
      return 'draft: not scheduled yet';
    case 'scheduled':
      return s.startAt ? `scheduled to start at ${s.startAt.toISOString()}` : 'scheduled';
    case 'running':
      return `running${stepText}`;
    case 'paused':
      if (reason === 'ops') return `paused by ops${stepText}`;
      if (reason === 'ramp_bake') {
        const left = s.bakeUntil ? Math.max(0, Math.ceil((s.bakeUntil.getTime() - s.now.getTime()) / 1000)) : null;
        return (
          `baking after step ${s.step.index + 1} of ${s.step.count}` +
          (s.bakeUntil ? ` until ${s.bakeUntil.toISOString()} (${left} s left)` : '')
        );
      }
      if (reason === 'outside_window') {
        const opensAt = s.statusDetail?.opensAt;
        return `waiting for its time window${typeof opensAt === 'string' ? `, which opens at ${opensAt}` : ''}${stepText}`;
      }
      if (reason === 'mailstore_unreachable' && s.statusDetail?.lastError === UNDECIDED_OTHER_WRITER)
        return `paused: waiting for another wave or a support operation to record its write on the same accounts (${UNDECIDED_OTHER_WRITER}); resume once it has`;
      if (reason === 'mailstore_unreachable' && refusedStatus(s.statusDetail) !== undefined) {
        const status = refusedStatus(s.statusDetail)!;
        const code = typeof s.statusDetail?.code === 'string' ? ` ${s.statusDetail.code}` : '';
        return status === 401 || status === 403
          ? `paused: the mailstore refused our credentials (HTTP ${status}${code}); fix the key, then resume`
          : `paused: the mailstore refused a batch as a whole (HTTP ${status}${code}); no member was failed; fix the cause (its address, a gateway), then resume`;
      }
      if (reason === 'mailstore_unreachable') {
        const last = [s.statusDetail?.lastError, s.statusDetail?.code, s.statusDetail?.status].find(
          (v): v is string | number => typeof v === 'string' || typeof v === 'number',
        );
        return `paused: the mailstore is unreachable${last !== undefined ? ` (${last})` : ''}`;
      }
      return `paused${reason ? ` (${reason})` : ''}`;
    case 'halted':
      return `halted${reason ? ` (${reason})` : ''}`;
    case 'completed':
      return 'completed: every member has an outcome';
    case 'cancelled':
      return 'cancelled: pending members were not processed';
    case 'rolling_back':
      return 'rolling back: restoring each changed account to its prior state';
    case 'rolled_back':
      return 'rolled back';
  }
}

/** The HTTP status of a refusal of a whole call (4xx) the wave paused on; undefined for an outage. */
function refusedStatus(detail: Record<string, unknown> | null): number | undefined {
  const status = detail?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/** The gate's own sentence from the evaluation stored with the pause (shape tolerant: reason or detail[]). */
function gateReason(detail: Record<string, unknown> | null, gate: string): string | undefined {
  if (!detail) return undefined;
  if (typeof detail.reason === 'string') return detail.reason;
  for (const key of ['detail', 'gates', 'breached', 'inconclusive']) {
    const list = detail[key];
    if (!Array.isArray(list)) continue;
    const hit = (list as unknown[]).find(
      (e): e is { gate: string; reason: string } =>
        typeof e === 'object' && e !== null && (e as { gate?: unknown }).gate === gate,
    );
    if (hit && typeof hit.reason === 'string') return hit.reason;
  }
  return undefined;
}
