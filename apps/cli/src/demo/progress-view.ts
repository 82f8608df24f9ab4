import type { WaveProgress, WaveState } from './api.types';
import { bar, int, padEnd, padStart, percent, reasons } from './format';
import { PlannedWave, STORY_ZONE } from './story';
import { StoryClock } from './story-clock';
import { Paint } from './terminal';

const LABEL_WIDTH = 32;
const BAR_WIDTH = 24;

function stateStyle(paint: Paint, state: WaveState): (text: string) => string {
  if (state === 'completed') return paint.green;
  if (state === 'halted' || state === 'cancelled' || state === 'rolling_back' || state === 'rolled_back')
    return paint.red;
  if (state === 'paused') return paint.yellow;
  if (state === 'running') return paint.cyan;
  return paint.dim;
}

function eta(p: WaveProgress): string {
  if (p.etaSeconds === null) return '–';
  return p.etaSeconds < 60
    ? `${Math.ceil(p.etaSeconds)} s`
    : `${Math.floor(p.etaSeconds / 60)} min ${Math.round(p.etaSeconds % 60)} s`;
}

/** The live block: the story clock, then two lines per wave (bar with counts, rate, ETA; outcomes and status). */
export function progressLines(
  waves: readonly PlannedWave[],
  clock: StoryClock,
  paint: Paint,
  ascii: boolean,
  now = Date.now(),
): string[] {
  const lines = [paint.dim(`story clock: ${clock.label(now)} ${STORY_ZONE}`)];
  for (const w of waves) lines.push(...waveLines(w, paint, ascii, now));
  return lines;
}

function waveLines(w: PlannedWave, paint: Paint, ascii: boolean, now = Date.now()): string[] {
  const p = w.last;
  const label = padEnd(paint.bold(w.label), LABEL_WIDTH);
  if (!p || p.state === 'scheduled' || p.state === 'draft') {
    const inSeconds = w.realStart ? Math.max(0, Math.ceil((w.realStart.getTime() - now) / 1000)) : null;
    return [
      `${label} ${paint.dim(bar(0, BAR_WIDTH, ascii))}  ${paint.dim(
        `scheduled for ${w.storyStart.replace('T', ' ')}${inSeconds === null ? '' : ` (in ${inSeconds} s)`}`,
      )}`,
    ];
  }
  const style = stateStyle(paint, p.state);
  // A finished wave: its average rate (the observed one is a trailing minute, decaying once nothing is sent).
  const took = p.startedAt && p.completedAt ? (Date.parse(p.completedAt) - Date.parse(p.startedAt)) / 1000 : 0;
  const rate =
    p.state === 'completed' && took > 0
      ? ` avg ${int(p.done / took)}/s`
      : ` ${int(p.rate.observedPerSecond)}/s (set ${int(p.rate.targetPerSecond)})`;
  const head = [
    label,
    style(bar(p.doneFraction, BAR_WIDTH, ascii)),
    padStart(percent(p.doneFraction), 7),
    ` ${int(p.done)}/${int(p.total)}`,
    rate,
    p.state === 'completed' ? '' : ` ETA ${eta(p)}`,
    ` ${style(p.state)}`,
  ]
    .filter((part) => part !== '')
    .join(' ');
  const outcome =
    `    enabled ${int(p.counts.enabled)} · skipped ${int(p.counts.skipped)}` +
    (p.counts.skipped ? ` (${reasons(p.skipReasons)})` : '') +
    ` · failed ${int(p.counts.failed)}` +
    (p.counts.in_flight ? ` · in flight ${int(p.counts.in_flight)}` : '') +
    ` — ${p.statusText}`;
  return [head, paint.dim(outcome)];
}
