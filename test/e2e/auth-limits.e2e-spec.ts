import { randomBytes } from 'node:crypto';
import { ApiKeyService } from '@app/core';
import { aWave, pollUntil } from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import type { ApiProcess } from './api-process';
import { SseReader } from './sse-reader';

const PROBLEM = 'application/problem+json; charset=utf-8';

/** A secret of the exact shape create() makes, that no key has. */
const randomKey = () => `rk_viewer_${randomBytes(3).toString('hex')}_${randomBytes(32).toString('base64url')}`;

/**
 * Issue 15, finding 3: random keys must not each cost a database look-up, and one key must not take every live
 * stream. Database look-ups are counted where they happen: PostgreSQL's scans of api_keys in this test's own
 * database, read once the API process that made them has exited (a backend reports its counts when it ends).
 */
describe('limits before authentication, negative look-ups, streams per key', () => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApiHarness('authlimits', { accounts: 20 });
  });
  afterAll(async () => {
    await api?.close();
  });

  const apiKeyScans = async () => {
    const [row] = await api.h.db.dataSource.query<{ n: string }[]>(
      `SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE relname = 'api_keys'`,
    );
    return Number(row.n);
  };
  const apiBackends = async () =>
    (
      await api.h.db.dataSource.query<{ pid: number }[]>(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'reopen-api'`,
      )
    ).map((r) => r.pid);

  /** Runs `work` against a fresh API process, then stops it and counts the api_keys scans its backends made. */
  async function countingLookups<T>(
    env: Record<string, string>,
    work: (origin: string) => Promise<T>,
  ): Promise<{ result: T; scans: number }> {
    const before = await apiKeyScans();
    const others = new Set(await apiBackends());
    const process: ApiProcess = await api.startAnotherApi(env);
    const result = await work(process.origin);
    await process.stop();
    await pollUntil(async () => (await apiBackends()).every((pid) => others.has(pid)), { timeoutMs: 10_000 });
    return { result, scans: (await apiKeyScans()) - before };
  }

  const get = (origin: string, path: string, key?: string, headers: Record<string, string> = {}) =>
    fetch(`${origin}/api/v1${path}`, {
      headers: { ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) },
    });

  it('1,500 random keys from one address: only its budget reaches the database, the rest get 429', async () => {
    const budget = 60;
    const { result, scans } = await countingLookups(
      { API_PREAUTH_LIMIT_PER_MINUTE: String(budget) },
      async (origin) => {
        const started = Date.now();
        expect((await get(origin, '/waves', api.secrets.viewer)).status).toBe(200); // a key this process knows
        const statuses: number[] = [];
        const limited: Response[] = [];
        const keys = Array.from({ length: 1500 }, randomKey);
        for (let i = 0; i < keys.length; i += 50) {
          const answers = await Promise.all(keys.slice(i, i + 50).map((k) => get(origin, '/waves', k)));
          for (const res of answers) {
            statuses.push(res.status);
            if (res.status === 429) limited.push(res);
            else await res.arrayBuffer();
          }
        }
        const seconds = Math.ceil((Date.now() - started) / 1000);
        const sample = limited[0];
        const problem = (await sample.json()) as Record<string, unknown>;
        await Promise.all(limited.slice(1).map((r) => r.arrayBuffer()));
        // The known key is not charged to the address: it still works in the middle of the flood.
        const known = (await get(origin, '/waves', api.secrets.viewer)).status;
        return { statuses, seconds, sample, problem, known };
      },
    );
    const { statuses, seconds, sample, problem, known } = result;
    const refused = statuses.filter((s) => s === 401).length;
    const maxLookups = budget + seconds + 1; // the burst, then one a second
    expect(refused).toBeLessThanOrEqual(maxLookups);
    expect(statuses.filter((s) => s === 429).length).toBe(1500 - refused);
    expect(sample.headers.get('content-type')).toBe(PROBLEM);
    expect(Number(sample.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(problem).toMatchObject({ status: 429, code: 'rate_limited', retryAfterSeconds: expect.any(Number) });
    expect(known).toBe(200);
    // Each look-up scans api_keys once (twice for a found key: the last-used touch). Before the fix: 1,500+.
    expect(scans).toBeGreaterThanOrEqual(refused); // the count does see the look-ups that happened
    expect(scans).toBeLessThanOrEqual(2 * (maxLookups + 1));
  });

  it('refuses an unknown key from memory; a key created after works at once; a revoked one stops within 2 s', async () => {
    const keys = new ApiKeyService(api.h.db.owner);
    const { result, scans } = await countingLookups(
      { API_KEY_NEGATIVE_CACHE_MS: '60000', API_PREAUTH_LIMIT_PER_MINUTE: '1000', API_KEY_CACHE_MS: '2000' },
      async (origin) => {
        const stranger = randomKey();
        const refused: number[] = [];
        for (let i = 0; i < 300; i++) refused.push((await get(origin, '/waves', stranger)).status);
        // As the admin CLI does it: straight into the database, no API call.
        const created = await keys.create('viewer', 'fresh');
        const fresh = (await get(origin, '/waves', created.secret)).status;
        await keys.revoke(created.id, 'test');
        const revokedAt = Date.now();
        await pollUntil(async () => (await get(origin, '/waves', created.secret)).status === 401, {
          timeoutMs: 5000,
          intervalMs: 50,
        });
        return { refused, fresh, stoppedAfterMs: Date.now() - revokedAt };
      },
    );
    expect(new Set(result.refused)).toEqual(new Set([401]));
    expect(result.fresh).toBe(200);
    expect(result.stoppedAfterMs).toBeLessThanOrEqual(2000 + 1500); // API_KEY_CACHE_MS, plus a poll on a busy machine
    // 300 refusals: one look-up. The new key: its first look-up, the last-used touch, re-checks until revoked.
    expect(scans).toBeGreaterThanOrEqual(2); // the stranger's one look-up and the new key's first are seen
    expect(scans).toBeLessThanOrEqual(20);
  });

  it('does not charge a valid key’s concurrent first requests beyond the one look-up they share', async () => {
    const small = await api.startAnotherApi({ API_PREAUTH_LIMIT_PER_MINUTE: '3' });
    try {
      // 40 dashboards behind one address open at once with a key this process has not seen yet.
      const statuses = await Promise.all(
        Array.from({ length: 40 }, () => get(small.origin, '/waves', api.secrets.support).then((r) => r.status)),
      );
      expect(new Set(statuses)).toEqual(new Set([200]));
    } finally {
      await small.stop();
    }
  });

  it('counts a trusted proxy’s clients apart, IPv6 per /64, and ignores X-Forwarded-For from anyone else', async () => {
    const behindProxy = await api.startAnotherApi({ API_TRUST_PROXY: 'loopback', API_PREAUTH_LIMIT_PER_MINUTE: '3' });
    const direct = await api.startAnotherApi({ API_PREAUTH_LIMIT_PER_MINUTE: '3' });
    try {
      const from = (origin: string, client: string) =>
        get(origin, '/waves', undefined, { 'x-forwarded-for': client }).then((r) => r.status);
      const statuses = async (origin: string, clients: string[]) => {
        const out: number[] = [];
        for (const c of clients) out.push(await from(origin, c));
        return out;
      };
      // One /64: its addresses share one budget of 3.
      expect(
        await statuses(behindProxy.origin, [
          '2001:db8:a:b::1',
          '2001:db8:a:b::2',
          '2001:db8:a:b:1::9',
          '2001:db8:a:b::3',
        ]),
      ).toEqual([401, 401, 401, 429]);
      // The next /64 and an IPv4 client have their own.
      expect(await statuses(behindProxy.origin, ['2001:db8:a:c::1', '198.51.100.7'])).toEqual([401, 401]);
      // Without a trusted proxy the header is the client's word: everyone is the TCP peer, and shares its budget.
      expect(await statuses(direct.origin, ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'])).toEqual([
        401, 401, 401, 429,
      ]);
    } finally {
      await behindProxy.stop();
      await direct.stop();
    }
  });

  it('caps the live streams of one key (429 with Retry-After); other keys and closed slots are unaffected', async () => {
    const wave = await aWave('streams').remaining().protocols('imap').rate(1).create(api.h, 'ops:fixture');
    const origin = (await api.startAnotherApi({ API_SSE_MAX_STREAMS_PER_KEY: '2' })).origin;
    const url = `${origin}/api/v1/waves/${wave.id}/events`;
    const open = (key: string) => new SseReader().open(url, { authorization: `Bearer ${key}` });
    const streams = [await open(api.secrets.viewer), await open(api.secrets.viewer)];
    try {
      expect(streams.map((s) => s.status)).toEqual([200, 200]);
      const third = await fetch(url, { headers: { authorization: `Bearer ${api.secrets.viewer}` } });
      expect(third.status).toBe(429);
      expect(third.headers.get('content-type')).toBe(PROBLEM);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await third.json()).toMatchObject({ code: 'too_many_streams', status: 429, limit: 2 });

      const other = await open(api.secrets.support);
      streams.push(other);
      expect(other.status).toBe(200);

      streams[0].close(); // the server frees the slot when it sees the connection close
      await pollUntil(
        async () => {
          const again = await open(api.secrets.viewer);
          if (again.status === 200) streams.push(again);
          else again.close();
          return again.status === 200;
        },
        { timeoutMs: 5000, intervalMs: 100 },
      );
    } finally {
      for (const s of streams) s.close();
    }
  });
});
