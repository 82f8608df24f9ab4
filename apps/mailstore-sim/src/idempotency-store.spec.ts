import { IdempotencyStore, type StoredResponse } from './idempotency-store';

const response = (body: string): StoredResponse => ({
  status: 200,
  contentType: 'application/json',
  headers: {},
  body,
});

function storeWithClock(ttlSeconds = 60): { store: IdempotencyStore; advance(ms: number): void } {
  let now = 0;
  return { store: new IdempotencyStore(ttlSeconds, () => now), advance: (ms) => (now += ms) };
}

describe('IdempotencyStore', () => {
  it('goes new -> in progress -> replay of the stored response', () => {
    const { store } = storeWithClock();
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'new' });
    const claim = store.claim('tok', 'k', 'fp');
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'in_progress' });
    claim.complete(response('{"a":1}'));
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'replay', response: response('{"a":1}') });
  });

  it('reports a different request under the same key as a mismatch, running or done', () => {
    const { store } = storeWithClock();
    const claim = store.claim('tok', 'k', 'fp-1');
    expect(store.lookup('tok', 'k', 'fp-2')).toEqual({ kind: 'mismatch' });
    claim.complete(response('{}'));
    expect(store.lookup('tok', 'k', 'fp-2')).toEqual({ kind: 'mismatch' });
  });

  it('forgets a released claim (429/5xx/hang) so the retry runs afresh', () => {
    const { store } = storeWithClock();
    store.claim('tok', 'k', 'fp').release();
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'new' });
    expect(store.size).toBe(0);
  });

  it('keeps a completed response when release comes after it', () => {
    const { store } = storeWithClock();
    const claim = store.claim('tok', 'k', 'fp');
    claim.complete(response('done'));
    claim.release();
    expect(store.lookup('tok', 'k', 'fp').kind).toBe('replay');
  });

  it('keeps keys per credential', () => {
    const { store } = storeWithClock();
    store.claim('tok-a', 'k', 'fp').complete(response('a'));
    expect(store.lookup('tok-b', 'k', 'other')).toEqual({ kind: 'new' });
  });

  it('expires records after the TTL and sweeps them from the front', () => {
    const { store, advance } = storeWithClock(10);
    store.claim('tok', 'old', 'fp').complete(response('old'));
    advance(5_000);
    store.claim('tok', 'young', 'fp').complete(response('young'));
    advance(5_001);
    expect(store.lookup('tok', 'old', 'fp')).toEqual({ kind: 'new' });
    expect(store.lookup('tok', 'young', 'fp').kind).toBe('replay');
    store.claim('tok', 'another', 'fp'); // claiming sweeps expired records
    expect(store.size).toBe(2);
  });

  it('does not let a stale claim touch a newer claim of the same key', () => {
    const { store, advance } = storeWithClock(1);
    const stale = store.claim('tok', 'k', 'fp');
    advance(1_001);
    const fresh = store.claim('tok', 'k', 'fp');
    stale.complete(response('stale'));
    stale.release();
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'in_progress' });
    fresh.complete(response('fresh'));
    expect(store.lookup('tok', 'k', 'fp')).toEqual({ kind: 'replay', response: response('fresh') });
  });
});
