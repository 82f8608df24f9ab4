import { DataSource } from 'typeorm';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';
import { sqlOfDataSource } from '../db/sql';
import { LoginCountRepository } from './login-count.repository';
import { LOGIN_INGEST_DEFAULTS, LoginIngestService } from './login-ingest.service';

interface CountRow {
  wave_id: string | null;
  cohort: string;
  failed: number;
  succeeded: number;
}

/** A Dovecot auth_request_finished event (a failure has no `success` field). */
function event(login: string, ok: boolean, ip: string, at: Date, session = `s${Math.random()}`) {
  return {
    event: 'auth_request_finished',
    end_time: at.toISOString(),
    fields: { service: 'imap', original_user: login, remote_ip: ip, session, ...(ok ? { success: 'yes' } : {}) },
  };
}

describe('LoginIngestService (real PostgreSQL, a wave that opened a cohort)', () => {
  let h: EngineHarness;
  let waveId: string;
  let opened: string;
  let notOpened: string;
  const repository = new LoginCountRepository();

  beforeAll(async () => {
    h = await createEngineHarness('login-ingest');
    await h.importPopulation({ count: 300, healthShare: 0.3, leakedShare: 0 });
    await h.startWorker();
    const wave = await aWave('health').cohorts('health').rate(100_000).started(h);
    await h.untilWaveState(wave.id, 'completed');
    waveId = wave.id;
    const [a] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'enabled' ORDER BY a.id LIMIT 1`,
      [waveId],
    );
    const [b] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE cohorts = '{general}' ORDER BY id LIMIT 1`,
    );
    opened = a.login;
    notOpened = b.login;
  });
  afterAll(async () => {
    await h?.close();
  });

  async function counts(): Promise<CountRow[]> {
    return h.db.dataSource.query<CountRow[]>(
      `SELECT wave_id, cohort, sum(failed)::int AS failed, sum(succeeded)::int AS succeeded FROM login_counts
        GROUP BY 1, 2 ORDER BY wave_id NULLS FIRST, cohort`,
    );
  }

  it('counts each login for the population and for the wave that opened it, per cohort, in one flush', async () => {
    const ingest = new LoginIngestService(h.db.dataSource);
    const now = new Date();
    const dup = event(opened, false, '203.0.113.1', now, 'dup');
    const results = ingest.accept(
      [
        event(opened.toUpperCase(), false, '203.0.113.1', now),
        event(opened, false, '203.0.113.2', now),
        dup,
        dup,
        event(opened, true, '198.51.100.7', now),
        event(notOpened, false, '203.0.113.1', now),
        event('nobody@example.test', false, '203.0.113.1', now),
        { event: 'auth_request_finished', fields: {} },
      ],
      now,
    );
    expect(results).toEqual([
      'accepted',
      'accepted',
      'accepted',
      'duplicate',
      'accepted',
      'accepted',
      'accepted',
      'malformed',
    ]);
    await ingest.flush();
    expect(await counts()).toEqual([
      { wave_id: null, cohort: '*', failed: 4, succeeded: 1 },
      { wave_id: null, cohort: 'general', failed: 1, succeeded: 0 },
      { wave_id: null, cohort: 'health', failed: 3, succeeded: 1 },
      { wave_id: waveId, cohort: '*', failed: 3, succeeded: 1 },
      { wave_id: waveId, cohort: 'health', failed: 3, succeeded: 1 },
    ]);
    expect(ingest.stats()).toMatchObject({
      events: { accepted: 6, duplicate: 1, malformed: 1 },
      flushes: 1,
      flushErrors: 0,
      unknownLogins: 1,
      pendingRows: 0,
    });
    const stream = await repository.stream(sqlOfDataSource(h.db.dataSource));
    expect(stream.received).toBe(6);
    expect(stream.lastEventAt?.getTime()).toBe(now.getTime());
  });

  it('a flush of logins no account has is received, but is no sign of life for the gates', async () => {
    const sql = sqlOfDataSource(h.db.dataSource);
    const before = await repository.stream(sql);
    const ingest = new LoginIngestService(h.db.dataSource);
    const later = new Date(Date.now() + 1000);
    // Dovecot posting the login without its domain (a realm the imported logins do not have): nothing maps.
    const local = opened.split('@')[0];
    expect(
      ingest.accept([event(local, false, '203.0.113.1', later), event(local, true, '203.0.113.2', later)], later),
    ).toEqual(['accepted', 'accepted']);
    await ingest.flush();
    expect(ingest.stats()).toMatchObject({ unknownLogins: 1 });
    const after = await repository.stream(sql);
    expect(after.received).toBe(before.received + 2);
    expect(after.lastEventAt).toEqual(before.lastEventAt);
  });

  it('adds to the counts of earlier flushes and of other processes, and the gates read them by scope', async () => {
    const first = new LoginIngestService(h.db.dataSource);
    const second = new LoginIngestService(h.db.dataSource);
    const now = new Date();
    first.accept([event(opened, false, '203.0.113.3', now)]);
    second.accept([event(opened, false, '203.0.113.4', now), event(opened, true, '198.51.100.7', now)]);
    await Promise.all([first.flush(), second.flush()]);
    const sql = sqlOfDataSource(h.db.dataSource);
    const since = new Date(now.getTime() - 60_000);
    expect(await repository.totals(sql, { waveId, cohort: 'health' }, since)).toEqual({ failed: 5, succeeded: 2 });
    expect(await repository.totals(sql, { waveId, cohort: null }, since)).toEqual({ failed: 5, succeeded: 2 });
    expect(await repository.totals(sql, { waveId: null, cohort: 'general' }, since)).toEqual({
      failed: 1,
      succeeded: 0,
    });
    expect(await repository.totals(sql, { waveId: null, cohort: null }, since)).toEqual({ failed: 6, succeeded: 2 });
    // A window that starts after the events' bucket sees none of them.
    expect(await repository.totals(sql, { waveId, cohort: null }, new Date(now.getTime() + 20_000))).toEqual({
      failed: 0,
      succeeded: 0,
    });
  });

  it('flushes by itself after the interval, and early when many wait', async () => {
    const ingest = new LoginIngestService(h.db.dataSource, repository, {
      ...LOGIN_INGEST_DEFAULTS,
      flushIntervalMs: 50,
      maxPendingRows: 3,
    });
    const before = (await repository.stream(sqlOfDataSource(h.db.dataSource))).received;
    ingest.accept([event(opened, true, '198.51.100.7', new Date())]);
    const waitFor = async (received: number) => {
      for (let i = 0; i < 100; i++) {
        if ((await repository.stream(sqlOfDataSource(h.db.dataSource))).received === received) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`received never reached ${received}`);
    };
    await waitFor(before + 1);
    // Three logins (three pairs) reach maxPendingRows: flushed at once, not after the interval.
    const slow = new LoginIngestService(h.db.dataSource, repository, {
      ...LOGIN_INGEST_DEFAULTS,
      flushIntervalMs: 60_000,
      maxPendingRows: 3,
    });
    const now = new Date();
    slow.accept([event('a@x', true, '1.1.1.1', now), event('b@x', true, '1.1.1.1', now)]);
    slow.accept([event('c@x', true, '1.1.1.1', now)]);
    await waitFor(before + 4);
    await slow.close();
  });

  it('keeps the counts of a flush that failed (its pool closed) and adds them with the next one', async () => {
    // Its own pool, closed under it: the statement fails as it does when PostgreSQL is away.
    const pool = new DataSource(h.db.dataSource.options);
    await pool.initialize();
    const ingest = new LoginIngestService(pool, repository, { ...LOGIN_INGEST_DEFAULTS, flushIntervalMs: 60_000 });
    const before = await counts();
    ingest.accept([event(opened, false, '203.0.113.9', new Date())]);
    await pool.destroy();
    await ingest.flush();
    expect(ingest.stats()).toMatchObject({ flushErrors: 1, pendingRows: 1, flushes: 0 });
    await pool.initialize();
    ingest.accept([event(opened, true, '203.0.113.9', new Date())]);
    await ingest.close();
    expect(ingest.stats()).toMatchObject({ flushErrors: 1, pendingRows: 0, flushes: 1 });
    const after = await counts();
    const total = (rows: CountRow[]) => rows.find((r) => r.wave_id === waveId && r.cohort === '*')!;
    expect(total(after).failed - total(before).failed).toBe(1);
    expect(total(after).succeeded - total(before).succeeded).toBe(1);
    await pool.destroy();
  });
  it('drops an event posted twice within the last dedupeWindow events, and forgets the oldest beyond them', async () => {
    const ingest = new LoginIngestService(h.db.dataSource, repository, { ...LOGIN_INGEST_DEFAULTS, dedupeWindow: 3 });
    const now = new Date();
    const e = (session: string) => event('nobody@example.test', true, '192.0.2.1', now, session);
    expect(ingest.accept([e('a'), e('b'), e('a'), e('c'), e('b'), e('d')])).toEqual([
      'accepted',
      'accepted',
      'duplicate',
      'accepted',
      'duplicate',
      'accepted', // b, c, d remembered now: a was forgotten
    ]);
    // a comes back (b forgotten for it), d and c are still remembered, then b is new again.
    expect(ingest.accept([e('a'), e('d'), e('c'), e('b')])).toEqual(['accepted', 'duplicate', 'duplicate', 'accepted']);
    await ingest.close();
  });
});
