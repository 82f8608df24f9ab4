import type { GateSpec, WaveSpec } from './api.types';
import { PopulationSummary } from './population';
import { FAILED_LOGINS_SIGNAL, SIGNAL_WINDOW_SECONDS } from './security-feed';

/** The two waves of the brief, in story time (Europe/Paris wall clock). */
const WAVE1_START = '2026-05-09T08:00';
const WAVE2_START = '2026-05-11T08:00';
/** Real seconds between "now" and the first wave's start on the compressed clock. */
export const LEAD_SECONDS = 5;

/** Failed POP/IMAP logins per minute above which a wave halts (background noise is 2–42). */
export const FAILED_LOGINS_THRESHOLD = { health: 50, general: 200 } as const;

export interface WavePlan {
  spec: WaveSpec;
  storyStart: string;
  /** Wave 2's rate once it resumes after the halt (ops make up for lost time). */
  raisedRate?: number;
}

const round = (n: number, step: number) => Math.max(step, Math.round(n / step) * step);
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

function gates(cohort: 'health' | 'general'): GateSpec[] {
  return [
    {
      name: 'mailstore-errors',
      metric: 'mailstore_error_rate',
      windowSeconds: 60,
      minSamples: 20,
      threshold: 0.05,
      action: 'pause',
    },
    {
      name: 'failed-logins',
      metric: 'signal',
      signal: FAILED_LOGINS_SIGNAL,
      cohort,
      windowSeconds: SIGNAL_WINDOW_SECONDS,
      minSamples: 0,
      threshold: FAILED_LOGINS_THRESHOLD[cohort],
      action: 'halt',
    },
  ];
}

/**
 * The plan, with rates chosen so the story fits in a couple of minutes on a small machine: wave 1 sends its
 * accounts in about three seconds after two short bakes; wave 2 runs at a rate that gives it some 25 s of sending
 * (at most 6,000/s, what one worker sustains on 2 cores with room for the API and PostgreSQL).
 */
export function planWaves(p: PopulationSummary): [WavePlan, WavePlan] {
  const rate1 = clamp(round(p.health / 3, 100), 200, 2000);
  const rate2 = clamp(round(p.total / 25, 100), 800, 6000);
  return [
    {
      storyStart: WAVE1_START,
      spec: {
        name: 'health professionals',
        description:
          'Practice software sends claims by SMTP and collects the replies over POP/IMAP: first, from 9 May.',
        selector: { type: 'cohorts', cohorts: ['health'] },
        protocols: ['imap', 'pop3'],
        startLocal: WAVE1_START,
        timeZone: 'Europe/Paris',
        ratePerSecond: rate1,
        batchSize: 500,
        concurrency: 4,
        steps: [
          { percent: 1, bakeSeconds: 3 },
          { percent: 10, bakeSeconds: 3 },
          { percent: 100, bakeSeconds: 0 },
        ],
        gates: gates('health'),
      },
    },
    {
      storyStart: WAVE2_START,
      raisedRate: round(rate2 * 1.5, 100),
      spec: {
        name: 'everyone else',
        description: 'Every account not open yet, from 11 May; the leaked ones whose password never changed stay held.',
        selector: { type: 'remaining' },
        protocols: ['imap', 'pop3'],
        startLocal: WAVE2_START,
        timeZone: 'Europe/Paris',
        ratePerSecond: rate2,
        batchSize: 500,
        concurrency: 6,
        steps: [
          { percent: 2, bakeSeconds: 3 },
          { percent: 100, bakeSeconds: 0 },
        ],
        gates: gates('general'),
        // Everyone else: a second ops key approves the plan and its preview before it is scheduled.
        approvalPolicy: { require: ['start'] },
      },
    },
  ];
}

/** Real seconds for the 48 story hours between the waves: wave 1 (and its bakes) must be done by then. */
export function gapSeconds(wave1ProjectedSeconds: number): number {
  return Math.max(12, Math.ceil(wave1ProjectedSeconds * 1.25 + 5));
}

export function describeGate(g: GateSpec): string {
  if (g.metric === 'signal') {
    return `${g.name}: ${g.signal ?? '?'} for ${g.cohort ?? 'everyone'} > ${g.threshold} → ${g.action}`;
  }
  const what = g.metric === 'mailstore_error_rate' ? `error rate > ${g.threshold * 100} %` : `p95 > ${g.threshold} ms`;
  return `${g.name}: mailstore ${what} over ${g.windowSeconds} s (≥ ${g.minSamples} calls) → ${g.action}`;
}
