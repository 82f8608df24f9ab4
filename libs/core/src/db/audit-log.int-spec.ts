import { createTestDatabase, TestDatabase } from '@app/testing';
import { audit, auditRowsSql } from './audit-log';
import { sqlOfDataSource } from './sql';
import { withTransaction } from './transaction';

const WAVE = '33333333-3333-4333-8333-333333333333';
const OPERATION = '44444444-4444-4444-8444-444444444444';

describe('the audit writer (real PostgreSQL)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('auditlog');
  });
  afterAll(async () => {
    await db?.drop();
  });

  const rows = (actionPrefix: string) =>
    db.dataSource.query<Record<string, unknown>[]>(
      `SELECT actor, action, wave_id, account_id::int AS account_id, login, operation_id, reason, ticket,
              before, after, detail, jsonb_typeof(before) AS before_type
         FROM audit_log WHERE action LIKE $1 || '%' ORDER BY id`,
      [actionPrefix],
    );

  it('writes one row with every field, JSON fields as JSON and left-out fields as NULL', async () => {
    await audit(sqlOfDataSource(db.dataSource), {
      actor: 'ops:alice',
      action: 'one.full',
      waveId: WAVE,
      accountId: 7,
      login: 'a@example.test',
      operationId: OPERATION,
      reason: 'why',
      ticket: 'T-1',
      before: { held: false },
      after: { held: true },
      detail: { n: 1, at: new Date('2026-05-09T06:00:00Z') },
    });
    await audit(sqlOfDataSource(db.dataSource), { actor: 'cli', action: 'one.bare', before: null });
    expect(await rows('one.')).toEqual([
      {
        actor: 'ops:alice',
        action: 'one.full',
        wave_id: WAVE,
        account_id: 7,
        login: 'a@example.test',
        operation_id: OPERATION,
        reason: 'why',
        ticket: 'T-1',
        before: { held: false },
        after: { held: true },
        detail: { n: 1, at: '2026-05-09T06:00:00.000Z' },
        before_type: 'object',
      },
      // `before: null` is stored as JSON null; the fields left out are SQL NULL.
      {
        actor: 'cli',
        action: 'one.bare',
        wave_id: null,
        account_id: null,
        login: null,
        operation_id: null,
        reason: null,
        ticket: null,
        before: null,
        after: null,
        detail: null,
        before_type: 'null',
      },
    ]);
  });

  it('writes several rows in order, with values that need quoting kept as they are', async () => {
    const awkward = 'NULL';
    const text = `a "quoted" \\ back\\slash, {braces}, commas, 'single' and ünïcode`;
    await withTransaction(db.dataSource, ({ sql }) =>
      audit(sql, [
        { actor: 'engine', action: 'many.1', reason: awkward, detail: { text } },
        { actor: 'engine', action: 'many.2', login: text, accountId: 2 },
        { actor: 'engine', action: 'many.3', ticket: '', after: [1, 'two', null] },
      ]),
    );
    const written = await rows('many.');
    expect(written.map((r) => [r.action, r.reason, r.login, r.ticket, r.account_id, r.detail, r.after])).toEqual([
      ['many.1', 'NULL', null, null, null, { text }, null],
      ['many.2', null, text, null, 2, null, null],
      ['many.3', null, null, '', null, null, [1, 'two', null]],
    ]);
  });

  it('writes nothing for no rows', async () => {
    const before = await db.dataSource.query<{ n: string }[]>(`SELECT count(*) AS n FROM audit_log`);
    await audit(sqlOfDataSource(db.dataSource), []);
    expect(await db.dataSource.query(`SELECT count(*) AS n FROM audit_log`)).toEqual(before);
  });

  it("writes a statement's own rows through the same columns (the ledger CTE of a one-statement write)", async () => {
    await db.dataSource.query(
      `WITH v AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS v(a, l)),
       ledger AS (${auditRowsSql(
         { actor: `'engine'`, action: `'cte.' || v.l`, waveId: '$3', accountId: 'v.a', login: 'v.l' },
         'FROM v',
       )} RETURNING 1)
       SELECT count(*) FROM ledger`,
      [[1, 2], ['x', 'y'], WAVE],
    );
    expect((await rows('cte.')).map((r) => [r.action, r.wave_id, r.account_id, r.login, r.reason])).toEqual([
      ['cte.x', WAVE, 1, 'x', null],
      ['cte.y', WAVE, 2, 'y', null],
    ]);
  });
});
