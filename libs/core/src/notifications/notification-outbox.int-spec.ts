import { NOTIFIABLE_ACTIONS, notificationKindOf } from '@app/domain';
import { createTestDatabase, TestDatabase } from '@app/testing';
import { audit, AuditRecord, auditRowsSql } from '../db/audit-log';
import { sqlOfDataSource } from '../db/sql';
import { withTransaction } from '../db/transaction';
import { NotificationService } from './notification.service';

const WAVE = '33333333-3333-4333-8333-333333333333';
const WAVE2 = '55555555-5555-4555-8555-555555555555';

/** The outbox trigger on audit_log (migration 1764420000000), as the runtime role: kinds, fan-out, transactions. */
describe('the notification outbox (real PostgreSQL)', () => {
  let db: TestDatabase;
  let service: NotificationService;

  beforeAll(async () => {
    db = await createTestDatabase('outbox');
    service = new NotificationService(db.dataSource);
  });
  afterAll(async () => {
    await db?.drop();
  });

  const events = () =>
    db.dataSource.query<{ audit_id: string; kind: string; wave_id: string | null; actor: string; detail: unknown }[]>(
      `SELECT audit_id::text, kind, wave_id, actor, detail FROM notification_events ORDER BY id`,
    );

  it("decides each audit row's kind exactly as libs/domain's notificationKindOf (the SQL twin)", async () => {
    const cases: AuditRecord[] = [
      ...NOTIFIABLE_ACTIONS.map((action) => ({ actor: 'ops:alice', action, waveId: WAVE })),
      { actor: 'ramp', action: 'wave.resume', waveId: WAVE },
      { actor: 'ramp', action: 'wave.step_pause', waveId: WAVE, detail: { step: 0 } },
      { actor: 'support:bob', action: 'support.enable_requested', login: 'a@x.test', detail: { overrides: [] } },
      {
        actor: 'support:bob',
        action: 'support.enable_requested',
        login: 'a@x.test',
        detail: { overrides: ['not_found'] },
      },
      {
        actor: 'support:bob',
        action: 'support.enable_requested',
        login: 'a@x.test',
        detail: { overrides: ['support_hold'] },
      },
      {
        actor: 'support:bob',
        action: 'support.enable_requested',
        login: 'b@x.test',
        detail: { overrides: ['password_reset_required', 'not_found'] },
      },
      { actor: 'support:bob', action: 'support.enable_requested', login: 'c@x.test' },
      { actor: 'ops:alice', action: 'wave.created', waveId: WAVE },
      { actor: 'scheduler', action: 'wave.schedule_fired', waveId: WAVE },
      { actor: 'engine', action: 'wave.verified', waveId: WAVE },
      { actor: 'support:bob', action: 'support.hold', login: 'a@x.test' },
    ];
    await audit(sqlOfDataSource(db.dataSource), cases);
    const [{ first }] = await db.dataSource.query<{ first: string }[]>(
      `SELECT min(id)::text AS first FROM audit_log WHERE action <> 'x'`,
    );
    const expected = cases
      .map((c, i) => ({ auditId: String(Number(first) + i), kind: notificationKindOf(c) }))
      .filter((c) => c.kind !== null);
    const got = await events();
    expect(got.map((e) => ({ auditId: e.audit_id, kind: e.kind }))).toEqual(expected);
    expect(expected.length).toBe(NOTIFIABLE_ACTIONS.length - 1 + 1 + 2); // the bare enable gives none; ramp step does
  });

  it('a ledger statement (auditRowsSql, member.* rows) makes no event; a notifiable row written that way does', async () => {
    const before = (await events()).length;
    await db.dataSource.query(
      `WITH x AS (${auditRowsSql(
        { actor: `'engine'`, action: `'member.' || v.s`, waveId: `'${WAVE}'::uuid` },
        `FROM (VALUES ('enabled'), ('skipped')) AS v(s)`,
      )}) SELECT 1`,
    );
    expect((await events()).length).toBe(before);
    await db.dataSource.query(
      `WITH x AS (${auditRowsSql({ actor: `'engine'`, action: `'wave.halt'`, waveId: `'${WAVE}'::uuid` }, '')}) SELECT 1`,
    );
    expect((await events()).slice(before).map((e) => e.kind)).toEqual(['wave.halted']);
  });

  it('is written in the change’s transaction: a rolled-back change leaves no event and no delivery', async () => {
    await service.create({ name: 'all', url: 'http://127.0.0.1:9/' }, 'ops:test');
    const before = (await events()).length;
    const [{ n: deliveriesBefore }] = await db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM notification_deliveries`,
    );
    await expect(
      withTransaction(db.dataSource, async ({ sql }) => {
        await audit(sql, { actor: 'engine', action: 'wave.halt', waveId: WAVE });
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect((await events()).length).toBe(before);
    const [{ n }] = await db.dataSource.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM notification_deliveries`,
    );
    expect(n).toBe(deliveriesBefore);
  });

  it('fans out to live subscriptions whose kinds match, from their creation on, one stream per wave', async () => {
    const all = (await service.list()).find((s) => s.name === 'all')!;
    const halts = await service.create({ name: 'halts', url: 'http://127.0.0.1:9/', kinds: ['wave.halted'] }, 'ops:t');
    const gone = await service.create({ name: 'gone', url: 'http://127.0.0.1:9/', format: 'slack' }, 'ops:t');
    await service.delete(gone.id, 'ops:t');
    await audit(sqlOfDataSource(db.dataSource), [
      { actor: 'ops:a', action: 'wave.start', waveId: WAVE2 },
      { actor: 'engine', action: 'wave.halt', waveId: WAVE2 },
      {
        actor: 'support:b',
        action: 'support.enable_requested',
        login: 'z@x.test',
        detail: { overrides: ['support_hold'] },
      },
    ]);
    const rows = await db.dataSource.query<{ sub: string; kind: string; stream: string; state: string }[]>(
      `SELECT d.subscription_id AS sub, e.kind, d.stream, d.state
         FROM notification_deliveries d JOIN notification_events e ON e.id = d.event_id
        WHERE e.wave_id = $1 OR e.login = 'z@x.test' ORDER BY d.id`,
      [WAVE2],
    );
    expect(rows).toEqual([
      { sub: all.id, kind: 'wave.started', stream: WAVE2, state: 'pending' },
      { sub: all.id, kind: 'wave.halted', stream: WAVE2, state: 'pending' },
      { sub: halts.id, kind: 'wave.halted', stream: WAVE2, state: 'pending' },
      { sub: all.id, kind: 'account.override', stream: '', state: 'pending' },
    ]);
    // `all` was created before the earlier tests' events: it has those too; `halts` only what came after it.
    expect((await service.get(halts.id)).deliveries).toEqual({
      pending: 1,
      delivered: 0,
      failing: 0,
      failed: 0,
      lastFailure: null,
    });
    await expect(service.get(gone.id)).rejects.toMatchObject({ code: 'subscription_not_found' });
  });

  it('refuses a subscription with a bad url, format or kind, naming the field, and writes nothing', async () => {
    const before = (await service.list()).length;
    await expect(
      service.create({ name: ' ', url: 'ftp://x', format: 'irc' as never, kinds: ['wave.exploded' as never] }, 'o'),
    ).rejects.toMatchObject({
      kind: 'invalid',
      extra: {
        errors: [
          { field: 'name', message: 'name must not be empty' },
          { field: 'url', message: 'url must be an http(s) URL' },
          { field: 'format', message: 'format must be one of json, slack, mattermost, teams' },
          { field: 'kinds', message: 'kinds: unknown kind wave.exploded' },
        ],
      },
    });
    expect((await service.list()).length).toBe(before);
    await expect(
      service.create({ name: 'creds', url: 'https://bot:hunter2@hooks.example/x' }, 'o'),
    ).rejects.toMatchObject({
      extra: { errors: [{ field: 'url', message: expect.stringMatching(/^url must not carry credentials/) }] },
    });
    expect((await service.list()).length).toBe(before);
  });

  it('shows the secret once: at creation, never in list or get', async () => {
    const created = await service.create({ name: 'secret', url: 'https://hooks.example/x' }, 'ops:t');
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(await service.get(created.id))).not.toContain(created.secret);
    expect(JSON.stringify(await service.list())).not.toContain(created.secret);
    const [row] = await db.dataSource.query<{ actor: string; detail: Record<string, unknown> }[]>(
      `SELECT actor, detail FROM audit_log WHERE action = 'subscription.created' AND detail->>'id' = $1`,
      [created.id],
    );
    expect(row).toEqual({
      actor: 'ops:t',
      detail: { id: created.id, name: 'secret', url: 'https://hooks.example/x', format: 'json', kinds: null },
    });
    expect(JSON.stringify(row)).not.toContain(created.secret);
  });
});
