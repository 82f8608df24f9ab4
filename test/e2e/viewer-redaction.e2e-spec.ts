import { aWave } from '@app/testing';
import { ApiHarness, KeyName, startApiHarness } from './api-harness';
import { SseReader } from './sse-reader';

const LOGINS = ['user1@example.test', 'user2@example.test', 'user3@example.test'];
const ADDRESS = /[a-z0-9.]+@example\.test/;

/**
 * Issue 15, finding 4: a viewer (wall dashboards) never reads an e-mail address, on any route it may call. An
 * explicit list shows as its count; an engine detail that lists logins (a propagation check's mismatches), a
 * description that quotes one, show "[address hidden]". Ops and support keep everything.
 */
describe('viewers see counts, never e-mail addresses', () => {
  let api: ApiHarness;
  let waveId: string;

  beforeAll(async () => {
    api = await startApiHarness('redact', { accounts: 20 });
    await api.h.importPopulation({ count: 20, seed: 4 });
    const wave = await aWave('pilot')
      .description('asked for by dr.who@example.test')
      .logins(LOGINS)
      .protocols('imap')
      .rate(1)
      .started(api.h, 'ops:fixture');
    waveId = wave.id;
    // Paused by the propagation check, as the engine records it (no worker runs here).
    await api.h.db.dataSource.query(
      `UPDATE waves SET state = 'paused', status_reason = 'gate:propagation', status_detail = $2 WHERE id = $1`,
      [
        waveId,
        JSON.stringify({
          verification: {
            checked: 3,
            mismatches: [{ login: LOGINS[1], protocols: { imap: false, pop3: false } }],
            done: true,
          },
        }),
      ],
    );
  });
  afterAll(async () => {
    await api?.close();
  });

  const get = (path: string, key: KeyName) => api.call('GET', path, { key });

  it('GET /waves/{id}: the count of an explicit list, no address anywhere', async () => {
    const res = await get(`/waves/${waveId}`, 'viewer');
    expect(res.status).toBe(200);
    expect(res.body.selector).toEqual({ type: 'logins', loginCount: 3 });
    expect(res.body.statusDetail.verification.mismatches).toEqual([
      { login: '[address hidden]', protocols: { imap: false, pop3: false } },
    ]);
    expect(res.body.description).toBe('asked for by [address hidden]');
    expect(res.text).not.toMatch(ADDRESS);
  });

  it('GET /waves: the same in the list', async () => {
    const res = await api.call<{ items: { id: string; selector: unknown }[] }>('GET', '/waves', { key: 'viewer' });
    expect(res.status).toBe(200);
    expect(res.body.items.find((w) => w.id === waveId)?.selector).toEqual({
      type: 'logins',
      loginCount: 3,
    });
    expect(res.text).not.toMatch(ADDRESS);
  });

  it.each(['ops', 'support'] as const)('%s keeps the list and the details', async (key) => {
    const res = await get(`/waves/${waveId}`, key);
    expect(res.body.selector).toEqual({ type: 'logins', logins: LOGINS, loginCount: 3 });
    expect(res.body.statusDetail.verification.mismatches[0].login).toBe(LOGINS[1]);
    const progress = await get(`/waves/${waveId}/progress`, key);
    expect(progress.body.statusDetail.verification.mismatches[0].login).toBe(LOGINS[1]);
  });

  it('GET /progress and GET /waves/{id}/progress: no address, and a tag of their own', async () => {
    const overview = await api.call<{ waves: { waveId: string }[] }>('GET', '/progress', { key: 'viewer' });
    expect(overview.status).toBe(200);
    expect(overview.body.waves.map((w) => w.waveId)).toContain(waveId);
    expect(overview.text).not.toMatch(ADDRESS);

    const viewer = await get(`/waves/${waveId}/progress`, 'viewer');
    expect(viewer.status).toBe(200);
    expect(viewer.body.statusDetail.verification.mismatches[0].login).toBe('[address hidden]');
    expect(viewer.text).not.toMatch(ADDRESS);
    // The ops view's tag does not validate the viewer's copy: a viewer presenting it gets the hidden view.
    const ops = await get(`/waves/${waveId}/progress`, 'ops');
    expect(ops.headers.get('etag')).not.toBe(viewer.headers.get('etag'));
    const revalidated = await api.call('GET', `/waves/${waveId}/progress`, {
      key: 'viewer',
      headers: { 'if-none-match': ops.headers.get('etag')! },
    });
    expect(revalidated.status).toBe(200);
    expect(revalidated.text).not.toMatch(ADDRESS);
  });

  it('GET /waves/{id}/events: the streamed views hold no address either', async () => {
    const sse = await new SseReader().open(`${api.api.origin}/api/v1/waves/${waveId}/events`, {
      authorization: `Bearer ${api.secrets.viewer}`,
    });
    try {
      expect(sse.status).toBe(200);
      const event = await sse.next((e) => e.event === 'progress');
      expect(JSON.stringify(event.data)).not.toMatch(ADDRESS);
      expect(event.data).toMatchObject({
        waveId,
        statusDetail: { verification: { mismatches: [{ login: '[address hidden]' }] } },
      });
    } finally {
      sse.close();
    }
  });
});
