import fc from 'fast-check';
import {
  OwnWrite,
  reaskable,
  REQUEUE_FIRST_DELAY_MS,
  REQUEUE_LIMIT,
  REQUEUE_MAX_DELAY_MS,
  requeueDelayMs,
} from './rollback-reask';

const open = { imap: true, pop3: true };
const w = (from: number, to: number, ...names: OwnWrite['names']): OwnWrite => ({ from, to, names });

describe('reaskable: a rollback conflict asked again at the version answered', () => {
  it('two overlapping waves: A opened IMAP (v1), B then POP3 (v1→v2): A may close IMAP at v2', () => {
    expect(reaskable({ imap: false }, open, { from: 1, to: 2 }, [w(1, 2, 'pop3')])).toBe(true);
  });

  it('B rolled back first (v2→v3, POP3): A follows both of B’s writes to v3', () => {
    expect(
      reaskable({ imap: false }, { imap: true, pop3: false }, { from: 1, to: 3 }, [w(1, 2, 'pop3'), w(2, 3, 'pop3')]),
    ).toBe(true);
  });

  it('A’s rollback went first (v2→v3, IMAP): B may then close POP3 at v3', () => {
    expect(
      reaskable({ pop3: false }, { imap: false, pop3: true }, { from: 2, to: 3 }, [w(1, 2, 'pop3'), w(2, 3, 'imap')]),
    ).toBe(true);
  });

  it('refused when a write on the way named a protocol it restores (another wave reopened it, support’s rollback)', () => {
    expect(reaskable({ imap: false }, open, { from: 1, to: 3 }, [w(1, 2, 'pop3'), w(2, 3, 'imap')])).toBe(false);
    expect(reaskable({ imap: false, pop3: false }, open, { from: 1, to: 2 }, [w(1, 2, 'pop3')])).toBe(false);
  });

  it('refused when the chain of our writes does not reach the version answered (somebody else wrote)', () => {
    expect(reaskable({ imap: false }, open, { from: 1, to: 5 }, [w(1, 2, 'pop3')])).toBe(false);
    expect(reaskable({ imap: false }, open, { from: 1, to: 3 }, [w(2, 3, 'pop3')])).toBe(false);
    expect(reaskable({ imap: false }, open, { from: 1, to: 2 }, [])).toBe(false);
  });

  it('refused when a protocol it restores is no longer as the wave left it (closed meanwhile)', () => {
    expect(reaskable({ imap: false }, { imap: false, pop3: true }, { from: 1, to: 2 }, [w(1, 2, 'pop3')])).toBe(false);
  });

  it('refused when it restores nothing (nothing to ask)', () => {
    expect(reaskable({}, open, { from: 1, to: 2 }, [w(1, 2, 'pop3')])).toBe(false);
  });

  it('follows branches and survives cycles (fingerprint versions come back to an earlier state)', () => {
    const writes = [w(1, 2, 'pop3'), w(2, 1, 'pop3'), w(1, 7, 'imap'), w(2, 4, 'pop3'), w(4, 9, 'pop3')];
    expect(reaskable({ imap: false }, open, { from: 1, to: 9 }, writes)).toBe(true);
    expect(reaskable({ imap: false }, open, { from: 1, to: 7 }, writes)).toBe(false);
  });

  it('model: true exactly when a path of writes not naming a restored protocol leads from → to', () => {
    const write = fc.record({
      from: fc.integer({ min: 0, max: 5 }),
      to: fc.integer({ min: 0, max: 5 }),
      names: fc.subarray(['imap', 'pop3'] as const, { minLength: 1 }),
    });
    fc.assert(
      fc.property(
        fc.array(write, { maxLength: 8 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.subarray(['imap', 'pop3'] as const, { minLength: 1 }),
        fc.record({ imap: fc.boolean(), pop3: fc.boolean() }),
        (writes, from, to, restored, now) => {
          const restores = Object.fromEntries(restored.map((p) => [p, false]));
          // Reference: transitive closure by repeated relaxation over the usable writes.
          const usable = writes.filter((x) => !x.names.some((p) => restored.includes(p)));
          const reach = new Set<number>();
          let grew = true;
          while (grew) {
            grew = false;
            for (const x of usable)
              if ((x.from === from || reach.has(x.from)) && !reach.has(x.to)) {
                reach.add(x.to);
                grew = true;
              }
          }
          const want = from !== to && reach.has(to) && restored.every((p) => now[p]);
          // A path back to `from` itself never counts: a conflict means the version moved.
          expect(reaskable(restores, now, { from, to }, writes)).toBe(want);
        },
      ),
    );
  });
});

describe('requeueDelayMs: the waits of a conflict judged again while another writer of ours is unrecorded', () => {
  it('doubles from the first delay, capped, and none past the limit', () => {
    const waits = Array.from({ length: REQUEUE_LIMIT + 2 }, (_, n) => requeueDelayMs(n));
    expect(waits).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, null, null]);
  });

  it('the waits add up to minutes, not a second (a batch in doubt is retried with backoff up to 8 s)', () => {
    let total = 0;
    for (let n = 0; requeueDelayMs(n) !== null; n++) total += requeueDelayMs(n)!;
    expect(total).toBe(181_750);
  });

  it('refuses a count that is not a whole number of waits so far', () => {
    for (const n of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(requeueDelayMs(n)).toBeNull();
  });

  it('model: non-decreasing, within [first, max], defined exactly below the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), (n) => {
        const d = requeueDelayMs(n);
        if (n >= REQUEUE_LIMIT) return expect(d).toBeNull();
        expect(d).toBeGreaterThanOrEqual(REQUEUE_FIRST_DELAY_MS);
        expect(d).toBeLessThanOrEqual(REQUEUE_MAX_DELAY_MS);
        if (n > 0) expect(d).toBeGreaterThanOrEqual(requeueDelayMs(n - 1)!);
      }),
    );
  });
});
