import { ApiHarness, startApiHarness } from './api-harness';

/*
 * Security probe: a revoked key whose request is already under way. A revocation takes effect within
 * API_KEY_CACHE_MS (docs/security.md), but the key is only checked when a request starts: a live progress stream
 * (GET /waves/{id}/events, a wall dashboard's) opened before the revocation went on streaming the wave's progress
 * for as long as the client kept it open. It must end within API_KEY_CACHE_MS and a tick of the stream.
 */
describe('a progress stream ends once its key is revoked', () => {
  let api: ApiHarness;
  let waveId: string;
  const CACHE_MS = 1000;

  beforeAll(async () => {
    api = await startApiHarness('probestream', {
      accounts: 5,
      env: { API_KEY_CACHE_MS: String(CACHE_MS), API_SSE_INTERVAL_MS: '200' },
    });
    const created = await api.call('POST', '/waves', {
      body: { name: 'watched', selector: { type: 'remaining' }, protocols: ['imap'], ratePerSecond: 1 },
    });
    expect(created.status).toBe(201);
    waveId = created.body.id;
  });
  afterAll(async () => {
    await api?.close();
  });

  /** Reads until the server ends the stream (true) or the deadline passes (false). */
  const endsWithin = async (reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), deadline - Date.now()).unref()),
      ]);
      if (chunk === null) return false;
      if (chunk.done) return true;
    }
    return false;
  };

  it('the viewer stream opened before the revocation is ended by the server', async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.api.origin}/api/v1/waves/${waveId}/events`, {
      headers: { authorization: `Bearer ${api.secrets.viewer}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    try {
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toMatch(/retry: 3000|event: progress/);
      // Still streaming while the key is good.
      expect(await endsWithin(reader, 2 * CACHE_MS)).toBe(false);

      await api.h.db.owner.query(`UPDATE api_keys SET revoked_at = now() WHERE name = $1`, [api.keyNames.viewer]);
      expect(await endsWithin(reader, 2 * CACHE_MS + 2000)).toBe(true);
      expect((await api.call('GET', `/waves/${waveId}`, { key: 'viewer' })).status).toBe(401);
    } finally {
      abort.abort();
    }
  });

  it('a stream whose key stays valid goes on', async () => {
    const abort = new AbortController();
    const res = await fetch(`${api.api.origin}/api/v1/waves/${waveId}/events`, {
      headers: { authorization: `Bearer ${api.secrets.ops}` },
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    try {
      expect(await endsWithin(res.body!.getReader(), 3 * CACHE_MS)).toBe(false);
    } finally {
      abort.abort();
    }
  });
});
