import { gatherPreflight, isNoGo, judge, renderChecks } from '../preflight/preflight';
import { ApiCallError } from './api-client';
import type { Approval, CommandResult, Wave, WavePreview } from './api.types';
import { duration, int, reasons } from './format';
import { FAILED_LOGINS_SIGNAL } from './security-feed';
import { StoryClock } from './story-clock';
import { PlannedWave, STORY_ZONE, Story } from './story';
import { describeGate, gapSeconds, LEAD_SECONDS, planWaves, WavePlan } from './wave-plan';

/**
 * Step 2: ops plan the two waves as drafts (story dates), preview them, then schedule them on the compressed
 * clock: each wave's start becomes the real instant its story date maps to, given to the API as Europe/Paris
 * wall-clock time (PATCH startLocal/timeZone, then POST /schedule): the scheduler fires it by itself.
 */
export async function planAndSchedule(story: Story): Promise<[WavePlan, WavePlan]> {
  const { term } = story;
  const { bold } = term.paint;
  if (!story.population) throw new Error('the population step must run first');
  term.say(bold('2. The plan (ops)'));
  const plans = planWaves(story.population);
  for (const [i, plan] of plans.entries()) {
    const wave = await story.ops.post<Wave>('/waves', plan.spec);
    const preview = await story.ops.get<WavePreview>(`/waves/${wave.id}/preview`);
    const planned: PlannedWave = {
      id: wave.id,
      label: `wave ${i + 1} · ${plan.spec.name}`,
      storyStart: plan.storyStart,
      spec: plan.spec,
      preview,
      realStart: null,
      last: null,
    };
    story.waves.push(planned);
    printPreview(story, planned);
  }

  const [first, second] = story.waves;
  const gap = gapSeconds(first.preview.projectedDuration.totalSeconds);
  const clock = new StoryClock(
    STORY_ZONE,
    first.storyStart,
    // A whole second: the API takes start times to the second, so story dates map exactly onto them.
    Math.ceil(Date.now() / 1000 + LEAD_SECONDS) * 1000,
    gap / 48,
    second.storyStart,
  );
  story.clock = clock;
  term.say(
    `   ${bold('Compressed clock')}: the night of 8 May is now; 1 story hour = ` +
      `${clock.realSecondsPerStoryHour.toFixed(2)} real seconds until ${second.storyStart.replace('T', ' ')}, ` +
      `real speed from then on`,
  );
  for (const w of [first, second]) term.say(`     ${w.label}: ${clock.describe(w.storyStart)}`);

  // The gates read this signal: it must arrive before a wave runs, or the wave pauses as inconclusive.
  await story.feed.start();
  term.say(`   security team: pushing ${FAILED_LOGINS_SIGNAL} for health and general every 5 s (POST /api/v1/signals)`);

  for (const w of [first, second]) await schedule(story, w, clock);
  await preflight(story);
  term.say();
  return plans;
}

/**
 * The night before's go/no-go, as `reopen preflight` reads it (its own code): dependencies, a worker alive, both waves
 * scheduled ahead with eligible members and gates, a notification subscription. A no-go stops the story there.
 */
async function preflight(story: Story): Promise<void> {
  const now = Date.now();
  const checks = judge(await gatherPreflight(story.ops, { withinHours: 24, waves: [] }, now), now);
  const verdict = renderChecks(checks).at(-1) ?? '';
  const notOk = checks.filter((c) => c.level !== 'ok');
  story.term.say(`   reopen preflight: ${verdict}${notOk.length ? '' : ` (${checks.length} checks ok)`}`);
  for (const c of notOk) story.term.say(`     ${c.level} ${c.name}: ${c.detail}`);
  if (isNoGo(checks)) throw new Error(`reopen preflight: ${verdict}`);
}

function printPreview(story: Story, w: PlannedWave): void {
  const { term } = story;
  const { spec, preview: p } = w;
  const selector =
    spec.selector.type === 'cohorts' ? `cohorts [${spec.selector.cohorts.join(', ')}]` : spec.selector.type;
  term.say(
    `   ${term.paint.bold(w.label)}: ${selector}, ${spec.protocols.join('+').toUpperCase()}, ` +
      `from ${w.storyStart.replace('T', ' ')} ${spec.timeZone ?? ''}`,
  );
  const skips = Object.fromEntries(Object.entries(p.skips).filter(([r]) => r !== 'not_found'));
  term.say(
    `     preview: ${int(p.members)} in scope → ${int(p.eligible)} eligible; skipped by reason: ${reasons(skips)}`,
  );
  const ramp = p.steps
    .map(
      (s, i) => `${s.percent} % (${int(s.memberLimit)})${i < p.steps.length - 1 ? ` → bake ${s.bakeSeconds} s` : ''}`,
    )
    .join(' → ');
  term.say(
    `     ${int(p.batches)} batches of ≤ ${int(p.batchSize)} at ${int(p.ratePerSecond)}/s; ramp ${ramp}; ` +
      `projected ${duration(p.projectedDuration.totalSeconds * 1000)} ` +
      `(${duration(p.projectedDuration.sendingSeconds * 1000)} sending, ${duration(p.projectedDuration.bakeSeconds * 1000)} baking)`,
  );
  if (spec.selector.type === 'remaining') {
    term.say(`     (scope computed now: the accounts wave 1 opens leave it before this wave starts)`);
  }
  term.say(`     gates: ${(spec.gates ?? []).map(describeGate).join('; ')}`);
}

async function schedule(story: Story, w: PlannedWave, clock: StoryClock): Promise<void> {
  const real = clock.realOf(w.storyStart);
  let startLocal = StoryClock.wallClock(real, STORY_ZONE);
  let wave = await story.ops.patch<Wave>(`/waves/${w.id}`, { startLocal, timeZone: STORY_ZONE });
  if (Math.abs(new Date(wave.startAt ?? 0).getTime() - real.getTime()) > 1500) {
    // Only in the hour the clocks go back, when the wall-clock time happens twice: say it in UTC instead.
    startLocal = StoryClock.wallClock(real, 'UTC');
    wave = await story.ops.patch<Wave>(`/waves/${w.id}`, { startLocal, timeZone: 'UTC' });
  }
  const result = await scheduleWithApproval(story, w);
  w.realStart = new Date(wave.startAt ?? real);
  story.term.say(
    `   POST /waves/${w.id.slice(0, 8)}…/schedule: ${result.from} → ${result.state}, startLocal ${startLocal} ` +
      `${wave.timeZone ?? ''} (${w.label}, story ${w.storyStart.replace('T', ' ')})`,
  );
}

/**
 * POST /schedule; when the wave's policy asks for a second ops key (409 approval_required), the second key reads the
 * request (the plan's hash and the preview's counts it is bound to) and approves it, then the first sends it again.
 */
async function scheduleWithApproval(story: Story, w: PlannedWave, attempt = 1): Promise<CommandResult> {
  const path = `/waves/${w.id}/schedule`;
  try {
    return await story.ops.post<CommandResult>(path);
  } catch (err) {
    // A third refusal means the preview keeps moving under the approvals: stop there.
    if (!(err instanceof ApiCallError) || err.problem?.code !== 'approval_required' || attempt > 2) throw err;
    const id = String(err.problem.approvalId);
    const request = await story.ops2.get<Approval>(`/approvals/${id}`);
    const approved = await story.ops2.post<Approval>(`/approvals/${id}/approve`, { note: 'plan and preview checked' });
    story.term.say(
      `   POST /waves/${w.id.slice(0, 8)}…/schedule: 409 approval_required (${w.label}: rule ${request.rule}); ` +
        `request ${id.slice(0, 8)}… bound to plan hash ${request.hash.slice(0, 12)}… and ` +
        `${int(request.counts?.eligible ?? 0)} eligible`,
    );
    story.term.say(
      `   ${approved.decidedBy ?? 'a second ops key'} approves it (the requester ${request.requestedBy} may not): ` +
        `${approved.state}; ops send the schedule again`,
    );
    return scheduleWithApproval(story, w, attempt + 1);
  }
}
