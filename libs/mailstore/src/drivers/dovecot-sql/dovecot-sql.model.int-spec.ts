import { createPassdbDatabase, type PassdbDatabase, type PassdbDialect } from '@app/testing';
import type { BatchItem } from '../../mailstore.types';
import { decideItem, type FlagRow } from './desired-state';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';

/**
 * The driver's batches against a model: random states and random items (partial switches, stale and current
 * ifVersion, unknown logins, repeated accounts), each answered as decideItem says of the rows before the batch, and the
 * table left as it says. On PostgreSQL with a version column this pins the one-statement batch (the rule's SQL twin);
 * on MariaDB the locking read and the multi-row UPDATE.
 */
const LOGINS = Array.from({ length: 12 }, (_, i) => `m${i}@example.test`);
const ROUNDS = 40;

describe.each<PassdbDialect>(['postgres', 'mysql'])('dovecot-sql on %s against the model', (dialect) => {
  let passdb: PassdbDatabase;
  let driver: DovecotSqlMailstore;

  beforeAll(async () => {
    passdb = await createPassdbDatabase(dialect, 'columns');
    await passdb.addAccounts(LOGINS.map((login) => ({ login, password: 'x' })));
    driver = new DovecotSqlMailstore({
      url: passdb.url,
      table: passdb.table,
      loginColumn: 'email',
      flags: { kind: 'columns', imap: 'imap_enabled', pop3: 'pop3_enabled' },
      versionColumn: 'access_version',
    });
  });

  afterAll(async () => {
    await driver?.close();
    await passdb?.drop();
  });

  async function snapshot(): Promise<Map<string, FlagRow>> {
    const rows = await passdb.query('SELECT email, imap_enabled, pop3_enabled, access_version FROM mail_users');
    return new Map(
      rows.map((r) => [
        String(r.email),
        {
          login: String(r.email),
          imap: Boolean(r.imap_enabled),
          pop3: Boolean(r.pop3_enabled),
          version: Number(r.access_version),
        },
      ]),
    );
  }

  it(`answers ${ROUNDS} random batches as the rule says`, async () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
    for (let round = 0; round < ROUNDS; round++) {
      const before = await snapshot();
      const items: BatchItem[] = Array.from({ length: 1 + Math.floor(random() * 8) }, () => {
        const account = random() < 0.1 ? `nobody-${round}@example.invalid` : pick(LOGINS);
        const protocols: BatchItem['protocols'] = {};
        if (random() < 0.7) protocols.imap = random() < 0.5;
        if (random() < 0.7) protocols.pop3 = random() < 0.5;
        const item: BatchItem = { account, protocols };
        const current = before.get(account)?.version ?? 0;
        if (random() < 0.4) item.ifVersion = random() < 0.5 ? current : current + 1;
        return item;
      });
      const out = await driver.batch(items, {}, { idempotencyKey: `model-${dialect}-${round}` });
      if (out.kind !== 'ok') throw new Error(`round ${round}: ${JSON.stringify(out)}`);

      const expected = new Map(before);
      const seen = new Set<string>();
      items.forEach((item, i) => {
        const r = out.value.results[i];
        if (seen.has(item.account)) {
          expect(r).toMatchObject({ status: 'invalid', error: { code: 'duplicate_account' } });
          return;
        }
        seen.add(item.account);
        const row = before.get(item.account);
        const d = decideItem(item, row ? [row] : []);
        expect({ round, i, status: r.status }).toEqual({ round, i, status: d.status });
        if (d.status === 'applied') {
          expect(r).toMatchObject({
            previous: { imap: row!.imap, pop3: row!.pop3 },
            protocols: d.next,
            version: row!.version + 1,
          });
          expected.set(item.account, { ...row!, ...d.next, version: row!.version + 1 });
        }
        if (d.status === 'conflict' || d.status === 'unchanged') expect(r.version).toBe(row!.version);
      });
      expect(await snapshot()).toEqual(expected);
    }
  });
});
