import type { Conditional } from './api-client';
import type { ProgressOverview, WavePreview, WaveProgress } from './api.types';
import { duration, int, percent, reasons } from './format';
import { progressLines } from './progress-view';
import { Incident } from './step-incident';
import { PlannedWave, sleep, Story } from './story';

const POLL_MS = 400;

/**
 * Step 3: watch the waves as a dashboard does (GET /progress with If-None-Match, viewer key), print what happens
 * to them as it happens, and drive the incident. Returns when every wave is completed and the incident is over.
 */
export async function watchWaves(story: Story, incident: Incident): Promise<void> {
  const { term, config } = story;
  const clock = story.clock;
  if (!clock) throw new Error('the plan step must run first');
  term.say(term.paint.bold('3. The waves run') + ' (GET /api/v1/progress every 0.4 s with If-None-Match, viewer key)');
  const deadline = Date.now() + config.timeoutMs;
  let etag: string | null = null;
  for (;;) {
    const answer: Conditional<ProgressOverview> = await story.viewer.getIfChanged('/progress', etag);
    let transitions = false;
    if (answer.changed) {
      etag = answer.etag;
      for (const w of story.waves) {
        const p = answer.body.waves.find((v) => v.waveId === w.id);
        if (!p) continue;
        transitions = (await report(story, w, w.last, p)) || transitions;
        w.last = p;
      }
    }
    incident.tick();
    if (incident.failure) throw incident.failure;
    if (story.feed.error) throw story.feed.error;
    term.live(progressLines(story.waves, clock, term.paint, !term.tty), transitions);
    if (story.waves.every((w) => w.last?.state === 'completed') && incident.done) break;
    if (Date.now() > deadline) {
      const states = story.waves.map((w) => `${w.label}: ${w.last?.statusText ?? 'no progress seen'}`).join('; ');
      throw new Error(`the waves were not done after ${config.timeoutMs / 1000} s (DEMO_TIMEOUT_S): ${states}`);
    }
    await sleep(POLL_MS);
  }
  term.live(progressLines(story.waves, clock, term.paint, !term.tty), true);
  term.endLive();
  term.say();
}

/** Prints a wave's transition (start, ramp steps, stops, completion); returns whether there was one. */
async function report(story: Story, w: PlannedWave, prev: WaveProgress | null, cur: WaveProgress): Promise<boolean> {
  const { term } = story;
  const { green, red } = term.paint;
  const was = prev?.state ?? 'scheduled';
  const wasReason = prev?.statusReason ?? null;
  const sameStep = (prev?.step.index ?? 0) === cur.step.index;
  if (was === cur.state && wasReason === cur.statusReason && sameStep) return false;
  // Each event is stamped with the story time it happened at (the view's own instants), not when it was seen.
  const at = (iso: string | null = cur.asOf) =>
    term.paint.dim(`[${story.clock?.label(iso ? Date.parse(iso) : Date.now()) ?? ''}]`);
  const step = `step ${cur.step.index + 1} of ${cur.step.count} (${cur.step.percent} %)`;

  if ((was === 'scheduled' || was === 'draft') && cur.state !== 'scheduled' && cur.state !== 'draft') {
    const late = cur.startedAt && cur.startAt ? Date.parse(cur.startedAt) - Date.parse(cur.startAt) : null;
    term.say(
      `${at(cur.startedAt)} ▶ ${w.label} started by the scheduler${late === null ? '' : ` ${duration(Math.max(0, late))} after its start time`}: ` +
        `${int(cur.total)} accounts frozen in its membership`,
    );
  }
  if (cur.state === 'paused' && cur.statusReason === 'ramp_bake') {
    term.say(
      `${at()} ⏸ ${w.label}: ${step} done, ${int(cur.done)} accounts; baking ${cur.step.bakeSecondsLeft ?? '?'} s ` +
        `while the gates watch`,
    );
  } else if (cur.state === 'running' && was === 'paused' && wasReason === 'ramp_bake') {
    term.say(`${at()} ▶ ${w.label}: bake over, ${step}`);
  } else if (cur.state === 'completed') {
    const took = cur.startedAt && cur.completedAt ? Date.parse(cur.completedAt) - Date.parse(cur.startedAt) : 0;
    term.say(
      green(`${at(cur.completedAt)} ✔ ${w.label} completed in ${duration(took)}: `) +
        `${int(cur.counts.enabled)} enabled, ${int(cur.counts.skipped)} skipped (${reasons(cur.skipReasons)}), ` +
        `${int(cur.counts.failed)} failed`,
    );
    await previewNext(story, w);
  } else if (cur.state === 'halted' || cur.state === 'paused' || cur.state === 'cancelled') {
    term.say(red(`${at()} ■ ${w.label} at ${percent(cur.doneFraction)}: ${cur.statusText}`));
  } else if (cur.state === 'running' && (was === 'halted' || was === 'paused')) {
    term.say(`${at()} ▶ ${w.label} running again, ${step}`);
  }
  return true;
}

/** When a wave completes, ops re-check the next scheduled one: its scope shrank by what this one opened. */
async function previewNext(story: Story, done: PlannedWave): Promise<void> {
  const next = story.waves[story.waves.indexOf(done) + 1];
  if (!next || (next.last && next.last.state !== 'scheduled')) return;
  const p = await story.ops.get<WavePreview>(`/waves/${next.id}/preview`);
  const skips = Object.fromEntries(Object.entries(p.skips).filter(([r]) => r !== 'not_found'));
  story.term.say(
    `   ops re-check ${next.label} (GET /waves/{id}/preview): ${int(p.members)} in scope, ${int(p.eligible)} eligible, ` +
      `skipped by reason: ${reasons(skips)}`,
  );
}
