import { createTestDatabase, TestDatabase } from '@app/testing';
import { ValidationError } from '../errors';
import { AuditQueryService } from './audit-query.service';

const WAVE_A = '11111111-1111-4111-8111-111111111111';
const WAVE_B = '22222222-2222-4222-8222-222222222222';

describe('AuditQueryService (real PostgreSQL)', () => {
  let db: TestDatabase;
  let audit: AuditQueryService;

  beforeAll(async () => {
    db = await createTestDatabase('auditquery');
    audit = new AuditQueryService(db.dataSource);
    // 30 entries, one hour apart, alternating waves; every third about one login.
    for (let i = 0; i < 30; i++) {
      await db.dataSource.query(
        `INSERT INTO audit_log (at, actor, action, wave_id, login, detail)
         VALUES (timestamptz '2026-05-09T00:00:00Z' + ($1 || ' hours')::interval, $2, $3, $4, $5, $6)`,
        [
          String(i),
          i % 2 ? 'ops:alice' : 'engine',
          i % 5 === 0 ? 'support.hold' : `wave.step${i}`,
          i % 2 ? WAVE_A : WAVE_B,
          i % 3 === 0 ? 'user1@example.test' : null,
          JSON.stringify({ i }),
        ],
      );
    }
  });
  afterAll(async () => {
    await db?.drop();
  });

  const index = (page: { items: { detail: unknown }[] }) => page.items.map((e) => (e.detail as { i: number }).i);

  it('lists newest first and pages with a keyset cursor that stays stable while rows are appended', async () => {
    const first = await audit.find({ limit: 12 });
    expect(index(first)).toEqual([29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18]);
    await db.dataSource.query(`INSERT INTO audit_log (actor, action) VALUES ('ops:bob', 'wave.created')`);
    const second = await audit.find({ limit: 12, cursor: first.nextCursor! });
    expect(index(second)).toEqual([17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6]);
    const last = await audit.find({ limit: 12, cursor: second.nextCursor! });
    expect(index(last)).toEqual([5, 4, 3, 2, 1, 0]);
    expect(last.nextCursor).toBeNull();
  });

  it('filters by wave, login (any case), time range and action family', async () => {
    expect(index(await audit.find({ waveId: WAVE_A, limit: 5 }))).toEqual([29, 27, 25, 23, 21]);
    expect(index(await audit.find({ login: 'USER1@example.test' }))).toEqual([27, 24, 21, 18, 15, 12, 9, 6, 3, 0]);
    const range = await audit.find({ from: new Date('2026-05-09T03:00:00Z'), to: new Date('2026-05-09T06:00:00Z') });
    expect(index(range)).toEqual([5, 4, 3]);
    expect(index(await audit.find({ action: 'support.*' }))).toEqual([25, 20, 15, 10, 5, 0]);
    expect(index(await audit.find({ action: 'wave.step7' }))).toEqual([7]);
    const combined = await audit.find({ waveId: WAVE_B, login: 'user1@example.test', action: 'support.*' });
    expect(index(combined)).toEqual([0]); // 0 is on wave B, about the login, a support action; 6, 12, … are not
  });

  it('kind=commands leaves out the per-member ledger rows, however many came since, through its index', async () => {
    await db.dataSource.query(
      `INSERT INTO audit_log (actor, action, wave_id, login, reason)
       SELECT 'engine', 'member.enabled', $1, 'user' || g || '@example.test', NULL FROM generate_series(1, 500) g`,
      [WAVE_A],
    );
    const all = await audit.find({ limit: 3 });
    expect(all.items.map((e) => e.action)).toEqual(['member.enabled', 'member.enabled', 'member.enabled']);
    const commands = await audit.find({ kind: 'commands', limit: 3 });
    expect(commands.items.map((e) => e.action)).toEqual(['wave.created', 'wave.step29', 'wave.step28']);
    await db.owner.query('ANALYZE audit_log'); // only the owner may ANALYZE (the service's role is skipped)
    const plan = await db.dataSource.query<{ 'QUERY PLAN': string }[]>(
      `EXPLAIN SELECT id FROM audit_log WHERE action NOT LIKE 'member.%' ORDER BY id DESC LIMIT 11`,
    );
    expect(plan.map((l) => l['QUERY PLAN']).join('\n')).toContain('audit_log_commands_idx');
  });

  it('kind=waves keeps only the entries about a wave: no member rows, nothing without a wave (support, imports)', async () => {
    await db.dataSource.query(
      `INSERT INTO audit_log (actor, action, wave_id) VALUES ('gate', 'wave.halt', $1), ('engine', 'member.failed', $1)`,
      [WAVE_B],
    );
    await db.dataSource.query(`INSERT INTO audit_log (actor, action) VALUES ('ops:carol', 'accounts.imported')`);
    const waves = await audit.find({ kind: 'waves', limit: 4 });
    // wave.created (no wave id) and accounts.imported are left out, and so is the member row
    expect(waves.items.map((e) => e.action)).toEqual(['wave.halt', 'wave.step29', 'wave.step28', 'wave.step27']);
    expect(waves.items.every((e) => e.waveId !== null)).toBe(true);
    // The wave's own filter and a family work with it: the status page's pane for one wave.
    const one = await audit.find({ kind: 'waves', waveId: WAVE_B, limit: 2 });
    expect(one.items.map((e) => e.action)).toEqual(['wave.halt', 'wave.step28']);
  });

  it('refuses bad filters, naming each', async () => {
    const err = await audit
      .find({
        waveId: 'x',
        limit: 0,
        action: 'drop table',
        cursor: '-1',
        kind: 'members' as never,
        from: new Date('2026-05-10'),
        to: new Date('2026-05-09'),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).errors.map((e) => e.field).sort()).toEqual([
      'action',
      'cursor',
      'kind',
      'limit',
      'to',
      'waveId',
    ]);
  });
});
