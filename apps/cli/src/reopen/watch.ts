import { setTimeout as sleep } from 'node:timers/promises';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import { isRolledBack, type WaveState } from '@app/domain';
import { ApiCallError, ApiClient } from '../demo/api-client';
import type { WaveProgress } from '../demo/api.types';
import { bar, int, percent, perSecond, reasons } from '../demo/format';
import { Paint, Terminal } from '../demo/terminal';
import { EXIT } from './exit-codes';

/**
 * How watch follows the stream: the API sends an event on each change and a `: ping` heartbeat every 15 s, so a stream
 * silent for `stallMs` is dead (an API or proxy frozen, a network cut without a reset: the socket never closes) and is
 * reopened; with nothing heard for `giveUpMs`, watch gives up (exit 3) rather than show a stale block forever.
 */
const WATCH_TIMING = { stallMs: 25_000, giveUpMs: 30_000, reconnectMs: 2_000 };

/**
 * Where watching ends, and the exit code it ends with: completed 0; halted 4 (a gate stopped it: ops decide);
 * cancelled or rolled back 5. Other states (draft, scheduled, running, paused, rolling back) are watched on: a draft
 * until someone schedules or starts it.
 */
export function watchExit(state: WaveState): number | null {
  switch (state) {
    case 'completed':
      return EXIT.ok;
    case 'halted':
      return EXIT.halted;
    case 'cancelled':
    case 'rolled_back':
      return EXIT.ended;
    case 'draft':
    case 'scheduled':
    case 'running':
    case 'paused':
    case 'rolling_back':
      return null;
  }
}

/**
 * Rate and ETA of the lane that moves: the forward one while running, the rollback's while rolling back (the API's
 * view gives the moving lane's). None otherwise: a halted or finished wave sends nothing, whatever the trailing
 * window says.
 */
function pace(p: WaveProgress, lane: 'running' | 'rolling_back'): string {
  if (p.state !== lane) return '';
  const rate = ` ${perSecond(p.rate.observedPerSecond)} (target ${perSecond(p.rate.targetPerSecond)})`;
  if (p.etaSeconds === null) return rate;
  const s = Math.ceil(p.etaSeconds);
  return `${rate}${s < 60 ? ` ETA ${s} s` : ` ETA ${Math.floor(s / 60)} min ${s % 60} s`}`;
}

/**
 * Why a sending wave is below its target, as the status page says it (docs/runbook.md, "Below its target"): the
 * mailstore's Retry-After, the shared pace lowered after its 429s, its advertised rate limit; and the most it can send
 * now. Nothing when nothing holds it back: a rate that is still ramping up is not explained by the pace.
 */
function slowLine(p: WaveProgress): string[] {
  const pace = p.pace;
  if (!pace || (p.state !== 'running' && p.state !== 'rolling_back')) return [];
  if (pace.factor === null) return ['  below its target? the shared pace cannot be read now (Redis): reason unknown'];
  if (!pace.slowReasons.length) return [];
  const parts = pace.slowReasons.map((r) => {
    switch (r) {
      case 'retry_after':
        return `the mailstore asked to wait (Retry-After, ${Math.ceil(pace.retryAfterSeconds ?? 0)} s left)`;
      case 'pace_after_errors':
        return `the pace is down to ${percent(pace.factor ?? 1, 0)} of the set rate after the mailstore's 429 answers`;
      case 'mailstore_rate_limit':
        return `the mailstore accepts at most ${perSecond(pace.mailstoreRatePerSecond ?? 0)} (its advertised rate limit)`;
    }
  });
  const ceiling = pace.ceilingPerSecond === null ? '' : `; at most ${perSecond(pace.ceilingPerSecond)} now`;
  return [`  below its target because ${parts.join('; ')}${ceiling}`];
}

/** " · in flight 20 · waiting for a retry 5", the parts that are not zero. */
function moving(counts: { in_flight: number; awaiting_retry?: number }): string {
  return (
    (counts.in_flight ? ` · in flight ${int(counts.in_flight)}` : '') +
    (counts.awaiting_retry ? ` · waiting for a retry ${int(counts.awaiting_retry)}` : '')
  );
}

/** The rollback's bar and outcomes, once the wave is rolled back (what it restored is what ops watch then). */
function rollbackLines(p: WaveProgress, paint: Paint, ascii: boolean): string[] {
  const rb = p.rollback;
  if (!rb) return [];
  const settled = rb.counts.conflict || rb.counts.failed ? paint.yellow : paint.green;
  const style = p.state === 'rolling_back' ? paint.cyan : settled;
  return [
    `  rollback ${style(bar(rb.doneFraction, 30, ascii))} ${percent(rb.doneFraction)} ` +
      `${int(rb.done)}/${int(rb.total)}${pace(p, 'rolling_back')}`,
    paint.dim(
      `  restored ${int(rb.counts.rolled_back)} · unchanged ${int(rb.counts.unchanged)}` +
        ` · conflicts ${int(rb.counts.conflict)} (changed since, left alone) · failed ${int(rb.counts.failed)}` +
        (rb.counts.failed ? ` (${reasons(rb.failureReasons)})` : '') +
        moving(rb.counts),
    ),
  ];
}

/** The live block of one wave: bar and counts, outcomes, its rollback's, gates. */
export function progressLines(p: WaveProgress, paint: Paint, ascii: boolean): string[] {
  const style = p.state === 'completed' ? paint.green : watchExit(p.state) === null ? paint.cyan : paint.red;
  const lines = [
    `${paint.bold(p.name)} ${style(bar(p.doneFraction, 30, ascii))} ${percent(p.doneFraction)} ` +
      `${int(p.done)}/${int(p.total)}${pace(p, 'running')} ${style(p.state)}`,
    paint.dim(
      // Once the wave itself is rolled back its enabled count is history (a rollback line without that is support's
      // rollback of single members: the count still stands).
      `  enabled ${int(p.counts.enabled)}${isRolledBack(p.state) ? ' (before the rollback)' : ''}` +
        ` · skipped ${int(p.counts.skipped)}` +
        (p.counts.skipped ? ` (${reasons(p.skipReasons)})` : '') +
        ` · failed ${int(p.counts.failed)}` +
        moving(p.counts) +
        ` — ${p.statusText}`,
    ),
    ...rollbackLines(p, paint, ascii),
    // After the bar of the lane that moves (the rollback's while it rolls back).
    ...slowLine(p).map((l) => paint.yellow(l)),
  ];
  for (const g of p.gates)
    lines.push(
      paint.dim(
        `  gate ${g.name}: ${g.status}${g.value === null ? '' : ` ${g.value}`} (above ${g.threshold}: ${g.reason})`,
      ),
    );
  return lines;
}

/**
 * Follows GET /waves/{id}/events (Server-Sent Events, parsed by eventsource-parser) until the wave reaches a state
 * watchExit ends on (views staler than the wave are skipped); a dropped stream is reopened with Last-Event-ID. With
 * --json, each progress view is printed as one line of the API's JSON; otherwise a live block (redrawn on a terminal,
 * plain lines every few seconds and at each change of state elsewhere).
 */
export async function watchWave(
  client: Pick<ApiClient, 'get' | 'stream'>,
  waveId: string,
  output: { json: boolean; stdout: NodeJS.WriteStream },
  timing = WATCH_TIMING,
): Promise<number> {
  const term = new Terminal(output.stdout, { plainIntervalMs: 5000 });
  const ascii = !term.tty;
  const path = `/waves/${encodeURIComponent(waveId)}/events`;
  // The progress views come from a short-lived cache: one read just after a command (`rollback`, then `watch`) may
  // still show the state before it. The wave row's version moves on every change, so a view older than the wave as
  // read here (or than a view already seen) is skipped, never taken for the wave's state.
  let minVersion = (await client.get<{ version: number }>(`/waves/${encodeURIComponent(waveId)}`)).version;
  let lastEventId: string | undefined;
  let lastState: string | null = null;
  /** When the API was last heard from: an answer, an event or a heartbeat. */
  let heard = Date.now();
  for (;;) {
    const abort = new AbortController();
    const silence = `no event nor heartbeat from the API for ${timing.stallMs / 1000} s`;
    const stalled = setInterval(
      () => {
        if (Date.now() - heard > timing.stallMs) abort.abort(new Error(silence));
      },
      Math.min(1000, timing.stallMs / 4),
    );
    let closed = 'event stream closed';
    try {
      const res = await client.stream(path, lastEventId, abort.signal);
      heard = Date.now();
      const tap = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, into) {
          heard = Date.now();
          into.enqueue(chunk);
        },
      });
      const events = res
        .body!.pipeThrough(tap)
        .pipeThrough(new TextDecoderStream())
        .pipeThrough(new EventSourceParserStream());
      for await (const event of events) {
        if (event.event !== 'progress') continue;
        lastEventId = event.id;
        const p = JSON.parse(event.data) as WaveProgress & { version: number };
        if (p.version < minVersion) continue;
        minVersion = p.version;
        const changed = p.state !== lastState;
        if (changed && lastState !== null && !output.json)
          term.say(`${lastState} → ${p.state}${p.statusReason ? ` (${p.statusReason})` : ''}`);
        lastState = p.state;
        const exit = watchExit(p.state);
        if (output.json) output.stdout.write(`${event.data}\n`);
        else term.live(progressLines(p, term.paint, ascii), changed || exit !== null);
        if (exit !== null) {
          term.endLive();
          abort.abort();
          return exit;
        }
        // Nobody reads any more (`watch ID | head -5`, the pipe closed): stop instead of following the wave unseen.
        if (!output.stdout.writable) return EXIT.ok;
      }
    } catch (err) {
      // A refusal (404, 401, 429 …) ends the watch as any refused call does; a dropped connection is retried.
      if (err instanceof ApiCallError && err.status !== null && err.status < 500) throw err;
      // Aborted here only by the silence check (the finally's abort comes after).
      const failed =
        err instanceof ApiCallError
          ? err.status === null
            ? err.body
            : `answered ${err.status}`
          : (err as Error).message;
      closed = abort.signal.aborted ? silence : `event stream failed (${failed})`;
      if (Date.now() - heard > timing.giveUpMs) {
        if (abort.signal.aborted) throw new ApiCallError('GET', path, null, null, silence);
        throw err instanceof ApiCallError ? err : new ApiCallError('GET', path, null, null, (err as Error).message);
      }
    } finally {
      clearInterval(stalled);
      abort.abort();
    }
    if (!output.json) term.say(`${closed}; reconnecting in ${timing.reconnectMs / 1000} s`);
    await sleep(timing.reconnectMs);
  }
}
