import type { ProgressService, RateHistory, WaveProgress } from '@app/core';
import type { ApiSettings } from '@app/config';
import { etagOf, matchesIfNoneMatch, ProgressCache, readerView, Tagged } from './progress-cache.service';

describe('progress ETags', () => {
  it('depend on what the view says, not on when it was read or on countdowns', () => {
    const view = { state: 'running', done: 5, asOf: '2026-05-09T08:00:00Z', step: { bakeSecondsLeft: 30 } };
    const later = { ...view, asOf: '2026-05-09T08:00:01Z', step: { bakeSecondsLeft: 29 } };
    expect(etagOf(later)).toBe(etagOf(view));
    expect(etagOf({ ...view, done: 6 })).not.toBe(etagOf(view));
    expect(etagOf(view)).toMatch(/^W\/"[A-Za-z0-9_-]{22}"$/);
  });

  it('match If-None-Match weakly, in lists, and *', () => {
    const tag = 'W/"abc"';
    expect(matchesIfNoneMatch('W/"abc"', tag)).toBe(true);
    expect(matchesIfNoneMatch('"abc"', tag)).toBe(true);
    expect(matchesIfNoneMatch('W/"x", W/"abc"', tag)).toBe(true);
    expect(matchesIfNoneMatch('*', tag)).toBe(true);
    expect(matchesIfNoneMatch('W/"abd"', tag)).toBe(false);
    expect(matchesIfNoneMatch(undefined, tag)).toBe(false);
  });
});

describe('readerView', () => {
  const tagged = <T>(body: T): Tagged<T> => ({ body, json: JSON.stringify(body), etag: etagOf(body) });

  it('hides addresses from readers who may not see them, once per read, with a tag of its own', () => {
    const view = tagged({ state: 'paused', statusDetail: { mismatches: [{ login: 'a@example.test' }] } });
    expect(readerView(view, true)).toBe(view);
    const hidden = readerView(view, false);
    expect(hidden.body.statusDetail.mismatches).toEqual([{ login: '[address hidden]' }]);
    expect(hidden.json).not.toContain('a@example.test');
    expect(hidden.etag).not.toBe(view.etag);
    expect(readerView(view, false)).toBe(hidden); // made once, then reused
  });

  it('serves the same view when it holds no address', () => {
    const view = tagged({ state: 'running', done: 5 });
    expect(readerView(view, false)).toBe(view);
  });
});

describe('ProgressCache', () => {
  let now = 1_000_000;
  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  function setup(cacheMs: number) {
    let reads = 0;
    let bucketSeconds = 5;
    let fail = false;
    let release: () => void = () => undefined;
    let hold = false;
    const service = {
      wave: async (id: string) => {
        const n = ++reads;
        if (hold) await new Promise<void>((resolve) => (release = resolve));
        if (fail) throw new Error('down');
        return { waveId: id, read: n } as unknown as WaveProgress;
      },
      history: async (id: string) => {
        const n = ++reads;
        return { waveId: id, read: n, bucketSeconds } as unknown as RateHistory;
      },
    } as unknown as ProgressService;
    const cache = new ProgressCache(service, { API_PROGRESS_CACHE_MS: cacheMs } as ApiSettings);
    return {
      cache,
      reads: () => reads,
      setFail: (v: boolean) => (fail = v),
      holdReads: (v: boolean) => (hold = v),
      release: () => release(),
      setBucket: (s: number) => (bucketSeconds = s),
    };
  }
  const readOf = (t: { body: unknown }) => (t.body as { read: number }).read;

  it('shares one read among concurrent and recent requests', async () => {
    const { cache, reads } = setup(1000);
    const views = await Promise.all(Array.from({ length: 50 }, () => cache.wave('w1')));
    expect(reads()).toBe(1);
    expect(new Set(views.map((v) => v.etag)).size).toBe(1);
    expect(JSON.parse(views[0].json)).toEqual({ waveId: 'w1', read: 1 });
    await cache.wave('w2');
    expect(reads()).toBe(2);
  });

  it('serves an expired view while one background read replaces it; a view too old is waited for', async () => {
    const t = setup(1000);
    expect(readOf(await t.cache.wave('w1'))).toBe(1);
    now += 1500;
    t.holdReads(true);
    expect(readOf(await t.cache.wave('w1'))).toBe(1); // stale, not waiting for the read in flight
    expect(readOf(await t.cache.wave('w1'))).toBe(1);
    expect(t.reads()).toBe(2);
    t.release();
    t.holdReads(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(readOf(await t.cache.wave('w1'))).toBe(2);
    now += 20_000;
    expect(readOf(await t.cache.wave('w1'))).toBe(3); // older than 10 s: waited for
  });

  it('never keeps a failed read', async () => {
    const t = setup(60_000);
    t.setFail(true);
    await expect(t.cache.wave('w1')).rejects.toThrow('down');
    t.setFail(false);
    await expect(t.cache.wave('w1')).resolves.toMatchObject({ body: { waveId: 'w1' } });
    expect(t.reads()).toBe(2);
  });

  it('reads every time when the cache time is 0', async () => {
    const t = setup(0);
    await t.cache.wave('w1');
    await t.cache.wave('w1');
    expect(t.reads()).toBe(2);
  });

  it("keeps a history for a quarter of its sample width, at least 2 s, so an old wave's scan is rare", async () => {
    const t = setup(200);
    expect(readOf(await t.cache.history('w1'))).toBe(1);
    now += 1900;
    expect(readOf(await t.cache.history('w1'))).toBe(1); // 5 s samples: fresh for 2 s, not the progress' 200 ms
    now += 200;
    await t.cache.history('w1'); // expired: served while one read replaces it
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.reads()).toBe(2);
    t.setBucket(120); // a 3-hour wave: 2-minute samples
    now += 2100;
    await t.cache.history('w1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.reads()).toBe(3);
    now += 29_000;
    expect(readOf(await t.cache.history('w1'))).toBe(3); // fresh for 30 s
    expect(t.reads()).toBe(3);
  });
});
