import { PassThrough } from 'node:stream';
import { WAVE_STATES } from '@app/domain';
import { ApiCallError } from '../demo/api-client';
import type { WaveProgress } from '../demo/api.types';
import { EXIT } from './exit-codes';
import { failureLines } from './run';
import { progressLines, watchExit, watchWave } from './watch';

const plain = (t: string) => t;
const paint = { bold: plain, dim: plain, green: plain, yellow: plain, red: plain, cyan: plain };

function view(over: Partial<WaveProgress>): WaveProgress {
  return {
    waveId: 'w',
    name: 'health',
    state: 'running',
    statusReason: null,
    statusText: 'running',
    total: 1000,
    counts: { pending: 500, in_flight: 20, enabled: 450, skipped: 30, failed: 0, cancelled: 0 },
    skipReasons: { password_reset_required: 30 },
    failureReasons: {},
    done: 480,
    doneFraction: 0.48,
    rate: { observedPerSecond: 58.6, targetPerSecond: 60, windowSeconds: 10 },
    etaSeconds: 8.7,
    step: { index: 0, count: 1, percent: 100, bakeSecondsLeft: null },
    gates: [{ name: 'errors', status: 'ok', value: 0.01, threshold: 0.05, reason: 'error rate 0.01' }],
    startAt: null,
    startedAt: '2026-05-09T08:00:00Z',
    completedAt: null,
    asOf: '2026-05-09T08:00:09Z',
    ...over,
  };
}

describe('reopen watch', () => {
  it('ends on completed (0), halted (4), cancelled or rolled back (5), and watches every other state', () => {
    const ends = Object.fromEntries(WAVE_STATES.map((s) => [s, watchExit(s)]));
    expect(ends).toEqual({
      draft: null,
      scheduled: null,
      running: null,
      paused: null,
      rolling_back: null,
      completed: EXIT.ok,
      halted: EXIT.halted,
      cancelled: EXIT.ended,
      rolled_back: EXIT.ended,
    });
  });

  it('draws a bar with counts, rate and ETA while running; no rate or ETA once halted', () => {
    expect(progressLines(view({}), paint, true)).toEqual([
      'health ##############................ 48.0 % 480/1,000 59/s (target 60/s) ETA 9 s running',
      '  enabled 450 · skipped 30 (30 password_reset_required) · failed 0 · in flight 20 — running',
      '  gate errors: ok 0.01 (above 0.05: error rate 0.01)',
    ]);
    const halted = progressLines(view({ state: 'halted', statusText: 'halted: gate errors breached' }), paint, true);
    expect(halted[0]).toBe('health ##############................ 48.0 % 480/1,000 halted');
  });

  it('says why a running wave is below its target (the pace), and nothing when nothing holds it back', () => {
    const pace = {
      factor: 0.25,
      retryAfterSeconds: 12.2,
      mailstoreRatePerSecond: 40,
      ceilingPerSecond: 10,
      slowReasons: ['retry_after', 'pace_after_errors', 'mailstore_rate_limit'] as const,
    };
    const slow = view({
      rate: { observedPerSecond: 0.4, targetPerSecond: 60, windowSeconds: 10 },
      pace: { ...pace, slowReasons: [...pace.slowReasons] },
    });
    expect(progressLines(slow, paint, true)).toEqual([
      'health ##############................ 48.0 % 480/1,000 0.4/s (target 60/s) ETA 9 s running',
      '  enabled 450 · skipped 30 (30 password_reset_required) · failed 0 · in flight 20 — running',
      "  below its target because the mailstore asked to wait (Retry-After, 13 s left); the pace is down to 25 % of the set rate after the mailstore's 429 answers; the mailstore accepts at most 40/s (its advertised rate limit); at most 10/s now",
      '  gate errors: ok 0.01 (above 0.05: error rate 0.01)',
    ]);
    expect(progressLines(view({ pace: { ...pace, slowReasons: [] } }), paint, true)).toHaveLength(3);
    expect(progressLines(view({ pace: { ...pace, factor: null, slowReasons: [] } }), paint, true)[2]).toBe(
      '  below its target? the shared pace cannot be read now (Redis): reason unknown',
    );
    // A paused wave sends nothing: no reason to give.
    const paused = view({ state: 'paused', pace: { ...pace, slowReasons: ['retry_after'] } });
    expect(progressLines(paused, paint, true)).toHaveLength(3);
  });

  it('says how many members wait for a retry (a batch kept after a 429), apart from those in flight', () => {
    const kept = view({
      counts: { pending: 500, in_flight: 5, enabled: 450, skipped: 30, failed: 0, cancelled: 0, awaiting_retry: 15 },
    });
    expect(progressLines(kept, paint, true)[1]).toBe(
      '  enabled 450 · skipped 30 (30 password_reset_required) · failed 0 · in flight 5 · waiting for a retry 15 — running',
    );
  });

  it('while rolling back: the rollback bar carries the rate and ETA, the forward bar none; then its outcomes', () => {
    const rollback = {
      total: 450,
      counts: {
        pending: 200,
        in_flight: 40,
        rolled_back: 180,
        unchanged: 10,
        conflict: 0,
        failed: 0,
        awaiting_retry: 20,
      },
      failureReasons: {},
      done: 190,
      doneFraction: 190 / 450,
    };
    const rollingBack = view({
      state: 'rolling_back',
      statusText: 'rolling back',
      rollback,
      rate: { observedPerSecond: 99.6, targetPerSecond: 100, windowSeconds: 10 },
      etaSeconds: 2.6,
      gates: [],
    });
    expect(progressLines(rollingBack, paint, true)).toEqual([
      'health ##############................ 48.0 % 480/1,000 rolling_back',
      '  enabled 450 (before the rollback) · skipped 30 (30 password_reset_required) · failed 0 · in flight 20 — rolling back',
      '  rollback #############................. 42.2 % 190/450 100/s (target 100/s) ETA 3 s',
      '  restored 180 · unchanged 10 · conflicts 0 (changed since, left alone) · failed 0 · in flight 40 · waiting for a retry 20',
    ]);
    const ended = view({
      state: 'rolled_back',
      statusText: 'rolled back',
      gates: [],
      rollback: {
        ...rollback,
        counts: {
          ...rollback.counts,
          pending: 0,
          in_flight: 0,
          awaiting_retry: 0,
          rolled_back: 436,
          conflict: 3,
          failed: 1,
        },
        failureReasons: { account_not_found: 1 },
        done: 450,
        doneFraction: 1,
      },
    });
    // Support's rollback of one member of a completed wave: its line, and the wave's enabled count as it stands.
    const oneMember = progressLines(
      view({
        state: 'completed',
        statusText: 'completed',
        gates: [],
        rollback: {
          ...rollback,
          total: 1,
          counts: { ...rollback.counts, pending: 0, in_flight: 0, awaiting_retry: 0, rolled_back: 1, unchanged: 0 },
          done: 1,
          doneFraction: 1,
        },
      }),
      paint,
      true,
    );
    expect(oneMember[1]).toMatch(/^ {2}enabled 450 · skipped/);
    expect(oneMember[2]).toBe('  rollback ############################## 100.0 % 1/1');
    expect(progressLines(ended, paint, true).slice(2)).toEqual([
      '  rollback ############################## 100.0 % 450/450',
      '  restored 436 · unchanged 10 · conflicts 3 (changed since, left alone) · failed 1 (1 account_not_found)',
    ]);
  });
});

describe('reopen watch on a stream that goes silent (an API or proxy frozen: the socket never closes)', () => {
  it('reopens it after the silence, says so, then gives up (exit 3) instead of showing a stale block forever', async () => {
    let opened = 0;
    const client = {
      get: <T>() => Promise.resolve({ version: 1 } as T),
      // One progress event, then nothing: no event, no heartbeat, no close; the next opens never answer.
      stream: (_path: string, _last: string | undefined, signal: AbortSignal) => {
        opened += 1;
        if (opened > 1)
          return new Promise<Response>((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(new Error('aborted'))),
          );
        const body = new ReadableStream<Uint8Array>({
          start(into) {
            into.enqueue(
              new TextEncoder().encode(
                `id: 1\nevent: progress\ndata: ${JSON.stringify({ ...view({}), version: 1 })}\n\n`,
              ),
            );
            signal.addEventListener('abort', () => into.error(signal.reason));
          },
        });
        return Promise.resolve(new Response(body));
      },
    };
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (d: Buffer) => (printed += d.toString()));
    const started = Date.now();
    const err = (await watchWave(
      client,
      'w',
      { json: false, stdout: stdout as unknown as NodeJS.WriteStream },
      { stallMs: 200, giveUpMs: 500, reconnectMs: 20 },
    ).catch((e: unknown) => e)) as ApiCallError;
    expect(err).toBeInstanceOf(ApiCallError);
    expect(err.status).toBeNull();
    expect(failureLines(err)).toEqual([
      'cannot reach the API: GET /waves/w/events: no event nor heartbeat from the API for 0.2 s',
    ]);
    expect(printed).toContain('health ##############');
    expect(printed).toContain('no event nor heartbeat from the API for 0.2 s; reconnecting in 0.02 s');
    expect(opened).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('reopen: what a refused or failed call prints', () => {
  it('the title, code and detail, then each field at fault', () => {
    const e = new ApiCallError(
      'PATCH',
      '/api/v1/waves/x',
      400,
      {
        title: 'Bad Request',
        status: 400,
        code: 'validation_failed',
        detail: 'the request has invalid fields',
        errors: [{ field: 'ratePerSecond', message: 'ratePerSecond must not be less than 0.1' }],
        requestId: 'req-1',
      },
      '',
    );
    expect(failureLines(e)).toEqual([
      'refused: 400 Bad Request (validation_failed): the request has invalid fields',
      '  ratePerSecond: ratePerSecond must not be less than 0.1',
      '  request id: req-1',
    ]);
  });

  it('an illegal transition with the state and the commands it accepts; a lone field; no answer at all', () => {
    const illegal = new ApiCallError(
      'POST',
      '/api/v1/waves/x/pause',
      409,
      {
        title: 'Conflict',
        code: 'illegal_transition',
        detail: 'cannot pause a completed wave',
        currentState: 'completed',
        allowed: ['rollback'],
      },
      '',
    );
    expect(failureLines(illegal)).toEqual([
      'refused: 409 Conflict (illegal_transition): cannot pause a completed wave',
      '  the wave is completed; it accepts: rollback',
    ]);
    const field = new ApiCallError('GET', '/x', 400, { title: 'Bad Request', detail: 'bad', field: 'id' }, '');
    expect(failureLines(field)).toEqual(['refused: 400 Bad Request: bad', '  field: id']);
    expect(failureLines(new ApiCallError('GET', 'http://h/api/v1/waves', null, null, 'ECONNREFUSED'))).toEqual([
      'cannot reach the API: GET http://h/api/v1/waves: ECONNREFUSED',
    ]);
    expect(failureLines(new ApiCallError('GET', '/api/v1/waves', 502, null, 'Bad Gateway'))).toEqual([
      'GET /api/v1/waves answered 502: Bad Gateway',
    ]);
  });

  it('says where the URL or the key came from, the commands a person can send, and --override', () => {
    const via = { origin: 'http://h:3000', urlSource: '--url', keySource: 'profile prod (/p.json)' };
    expect(
      failureLines(new ApiCallError('GET', 'http://h:3000/api/v1/waves', null, null, 'ECONNREFUSED'), via),
    ).toEqual([
      'cannot reach the API: GET http://h:3000/api/v1/waves: ECONNREFUSED',
      '  the URL http://h:3000 comes from --url: is the API up, and is this its address?',
    ]);
    const refused = (status: number, title: string, code: string, extra: Record<string, unknown> = {}) =>
      failureLines(new ApiCallError('POST', '/x', status, { title, code, detail: 'no', ...extra }, ''), via);
    expect(refused(401, 'Unauthorized', 'unauthorized')[1]).toBe(
      '  the key comes from profile prod (/p.json): is it a key of this API (http://h:3000), not revoked?',
    );
    expect(refused(403, 'Forbidden', 'forbidden')[1]).toBe(
      '  the key comes from profile prod (/p.json): use a key of the role this command needs (docs/cli.md, "Commands")',
    );
    expect(refused(409, 'Conflict', 'override_required')[1]).toBe(
      '  to open it anyway: the same command with --override (audited; it may need a second ops key)',
    );
    // The API lists the commands a person can send (OPERATOR_COMMANDS), each a `reopen waves` command.
    const illegal = { currentState: 'scheduled', allowed: ['unschedule', 'start', 'cancel'] };
    expect(refused(409, 'Conflict', 'illegal_transition', illegal)[1]).toBe(
      '  the wave is scheduled; it accepts: unschedule, start, cancel',
    );
  });
});
