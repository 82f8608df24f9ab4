import { SKIP_REASONS } from '@app/domain';
import { EligibilityRow } from './batch.types';
import { decidePermit, firstPermitOutcome, PermitCheck, permitOutcome } from './permit-decision';

const INCIDENT = new Date('2026-05-01T00:00:00Z');
const CALL_BY = new Date('2026-05-10T12:00:00Z');

/** An account as a permit reads it: eligible for an IMAP wave unless a test says otherwise. */
function row(seq: number, over: Partial<EligibilityRow> = {}): EligibilityRow {
  return {
    seq,
    account_id: String(1000 + seq),
    login: `user${seq}@example.test`,
    leaked: false,
    password_changed_at: null,
    held: false,
    override_reason: null,
    override_ticket: null,
    override_expires_at: null,
    imap_enabled: false,
    pop3_enabled: true,
    mailstore_version: 7,
    epoch: '42',
    ...over,
  };
}

const live = { override_reason: 'customer verified', override_ticket: 'SUP-1' };

describe('the first permit decides each member on its account as read', () => {
  it.each<[string, Partial<EligibilityRow>, string | null]>([
    ['an ordinary account', {}, null],
    ['held', { held: true }, 'held'],
    [
      'held, even with a live override and leaked',
      { held: true, leaked: true, ...live, override_expires_at: new Date('2026-06-01') },
      'held',
    ],
    ['leaked, password never changed', { leaked: true }, 'password_reset_required'],
    [
      'leaked, password changed at the incident',
      { leaked: true, password_changed_at: INCIDENT },
      'password_reset_required',
    ],
    [
      'leaked, password changed after the incident',
      { leaked: true, password_changed_at: new Date('2026-05-02') },
      null,
    ],
    [
      'leaked with an override live past the window',
      { leaked: true, ...live, override_expires_at: new Date('2026-05-11') },
      null,
    ],
    [
      'leaked with an override ending inside the send window',
      { leaked: true, ...live, override_expires_at: CALL_BY },
      'password_reset_required',
    ],
    [
      'leaked with an override without a ticket',
      { leaked: true, override_reason: 'x', override_expires_at: new Date('2026-06-01') },
      'password_reset_required',
    ],
    ['already enabled', { imap_enabled: true }, 'already_enabled'],
  ])('%s → %s', (_name, over, reason) => {
    const d = decidePermit([row(1, over)], ['imap'], INCIDENT, CALL_BY);
    if (reason === null) {
      expect(d.skipped).toEqual([]);
      expect(d.eligible).toEqual([
        {
          seq: 1,
          accountId: 1001,
          login: 'user1@example.test',
          priorImap: over.imap_enabled ?? false,
          priorPop3: true,
          version: 7,
        },
      ]);
      expect(d.skippedDelta).toEqual({});
    } else {
      expect(d.eligible).toEqual([]);
      expect(d.skipped).toEqual([{ seq: 1, accountId: '1001', login: 'user1@example.test', reason }]);
      expect(d.skippedDelta).toEqual({ in_flight: -1, skipped: 1, [`skipped:${reason}`]: 1 });
    }
  });

  it('keeps the batch order, sends the eligible with the prior state read, and counts the skipped by reason', () => {
    const rows = [
      row(1),
      row(2, { held: true }),
      row(3, { imap_enabled: true, pop3_enabled: false }),
      row(4),
      row(5, { held: true }),
    ];
    const d = decidePermit(rows, ['imap', 'pop3'], INCIDENT, CALL_BY);
    expect(d.eligible.map((m) => [m.seq, m.priorImap, m.priorPop3])).toEqual([
      [1, false, true],
      [3, true, false],
      [4, false, true],
    ]);
    expect(d.skipped.map((s) => [s.seq, s.reason])).toEqual([
      [2, 'held'],
      [5, 'held'],
    ]);
    expect(d.skippedDelta).toEqual({ in_flight: -2, skipped: 2, 'skipped:held': 2 });
  });

  it('never decides not_found (only an answer says so): the reasons a read can give', () => {
    const reasons = new Set(
      decidePermit(
        [row(1, { held: true }), row(2, { leaked: true }), row(3, { imap_enabled: true })],
        ['imap'],
        INCIDENT,
        CALL_BY,
      ).skipped.map((s) => s.reason),
    );
    expect([...reasons].sort()).toEqual(SKIP_REASONS.filter((r) => r !== 'not_found').sort());
  });

  it('an empty read decides nothing', () => {
    expect(decidePermit([], ['imap'], INCIDENT, CALL_BY)).toEqual({ eligible: [], skipped: [], skippedDelta: {} });
  });
});

describe("what a permit statement's answer means", () => {
  const every = [true, false];
  const asRead = [true, false, null];

  it('every combination of the wave check, exhaustively', () => {
    for (const lockedWave of every)
      for (const waveAsRead of asRead)
        for (const attempted of every) {
          const check: PermitCheck = { lockedWave, waveAsRead, attempted };
          const expected = !lockedWave ? (waveAsRead ? 'busy' : 'stopped') : attempted ? 'granted' : 'lost';
          expect(permitOutcome(check)).toBe(expected);
        }
  });

  it('every combination of the wave and epoch checks of a first permit, exhaustively', () => {
    for (const lockedWave of every)
      for (const waveAsRead of asRead)
        for (const lockedEpoch of every)
          for (const epochAsRead of asRead)
            for (const attempted of every) {
              const outcome = firstPermitOutcome({ lockedWave, waveAsRead, lockedEpoch, epochAsRead, attempted });
              // The wave first: a stopped or busy wave says so whatever the epoch.
              if (!lockedWave) expect(outcome).toBe(waveAsRead ? 'busy' : 'stopped');
              // Then the epoch: a change committing right now (busy), or committed since the read (changed).
              else if (!lockedEpoch) expect(outcome).toBe(epochAsRead ? 'busy' : 'changed');
              else expect(outcome).toBe(attempted ? 'granted' : 'lost');
            }
  });
});
