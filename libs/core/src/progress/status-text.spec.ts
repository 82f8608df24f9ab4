import { describeStatus, StatusInput } from './status-text';

const now = new Date('2026-05-09T08:00:00Z');
const base: StatusInput = {
  state: 'running',
  statusReason: null,
  statusDetail: null,
  startAt: null,
  bakeUntil: null,
  step: { index: 0, count: 1, percent: 100 },
  gates: [],
  now,
};

describe('describeStatus', () => {
  it('says when a scheduled wave starts', () => {
    expect(describeStatus({ ...base, state: 'scheduled', startAt: new Date('2026-05-09T06:00:00Z') })).toBe(
      'scheduled to start at 2026-05-09T06:00:00.000Z',
    );
  });

  it('says when the window of a wave waiting for it opens', () => {
    const detail = { opensAt: '2026-05-11T06:00:00.000Z', timeZone: 'Europe/Paris' };
    expect(describeStatus({ ...base, state: 'paused', statusReason: 'outside_window', statusDetail: detail })).toBe(
      'waiting for its time window, which opens at 2026-05-11T06:00:00.000Z',
    );
  });

  it('names the ramp step while running and the bake time left while baking', () => {
    const step = { index: 1, count: 3, percent: 10 };
    expect(describeStatus({ ...base, step })).toBe('running, step 2 of 3 (10 %)');
    expect(
      describeStatus({
        ...base,
        state: 'paused',
        statusReason: 'ramp_bake',
        bakeUntil: new Date(now.getTime() + 90_500),
        step,
      }),
    ).toBe('baking after step 2 of 3 until 2026-05-09T08:01:30.500Z (91 s left)');
  });

  it('gives the gate and its own sentence, from the evaluation stored with the pause', () => {
    const detail = {
      gates: [{ gate: 'errors', status: 'breached', reason: 'error rate 0.08 over 120 calls is above 0.05' }],
    };
    expect(describeStatus({ ...base, state: 'paused', statusReason: 'gate:errors', statusDetail: detail })).toBe(
      'paused: gate errors breached (error rate 0.08 over 120 calls is above 0.05)',
    );
    expect(describeStatus({ ...base, state: 'halted', statusReason: 'gate:errors', statusDetail: detail })).toMatch(
      /^halted: gate errors breached/,
    );
    expect(describeStatus({ ...base, state: 'paused', statusReason: 'inconclusive:siem', statusDetail: null })).toBe(
      'paused: gate siem has no fresh data',
    );
  });

  it('explains ops pauses and an unreachable mailstore', () => {
    expect(describeStatus({ ...base, state: 'paused', statusReason: 'ops' })).toBe('paused by ops');
    expect(
      describeStatus({
        ...base,
        state: 'paused',
        statusReason: 'mailstore_unreachable',
        statusDetail: { lastError: 'timeout' },
      }),
    ).toBe('paused: the mailstore is unreachable (timeout)');
    // Refused as a whole (a gateway's 404, our credentials): reachable, and the operator's fix is different.
    const refused = (status: number, code: string) =>
      describeStatus({
        ...base,
        state: 'paused',
        statusReason: 'mailstore_unreachable',
        statusDetail: { batchId: 'b', status, code, inDoubt: false },
      });
    expect(refused(404, 'not_found')).toBe(
      'paused: the mailstore refused a batch as a whole (HTTP 404 not_found); no member was failed; fix the cause (its address, a gateway), then resume',
    );
    expect(refused(401, 'unauthorized')).toBe(
      'paused: the mailstore refused our credentials (HTTP 401 unauthorized); fix the key, then resume',
    );
    expect(
      describeStatus({
        ...base,
        state: 'paused',
        statusReason: 'mailstore_unreachable',
        statusDetail: { status: 503 },
      }),
    ).toBe('paused: the mailstore is unreachable (503)');
    // Paused because another writer of ours has not recorded its write yet: the mailstore is fine, say so.
    expect(
      describeStatus({
        ...base,
        state: 'paused',
        statusReason: 'mailstore_unreachable',
        statusDetail: { lastError: 'undecided_other_writer' },
      }),
    ).toBe(
      'paused: waiting for another wave or a support operation to record its write on the same accounts (undecided_other_writer); resume once it has',
    );
  });
});
