import { DataSource, type Logger } from 'typeorm';
import { ApiKeyService, hashApiKey } from '@app/core';
import { dataSourceOptions } from '@app/db';
import { createTestDatabase, TestDatabase } from '@app/testing';
import type { ApiSettings } from '@app/config';
import { ApiKeyVerifier } from './api-key.verifier';

/**
 * The API's key cache on the real api_keys table. Its DataSource records every statement it sends (a TypeORM logger):
 * what the cache costs PostgreSQL is counted where it is spent. The clock is Date.now, moved by hand.
 */
describe('ApiKeyVerifier (real PostgreSQL)', () => {
  const settings = { API_KEY_CACHE_MS: 2000, API_KEY_NEGATIVE_CACHE_MS: 5000 } as ApiSettings;
  let db: TestDatabase;
  let recorded: DataSource;
  let owner: ApiKeyService;
  const statements: { sql: string; params: unknown[] }[] = [];
  let now = 0;

  beforeAll(async () => {
    db = await createTestDatabase('keycache');
    owner = new ApiKeyService(db.owner); // keys are created and revoked by the owner, as the CLI does
    const logger: Logger = {
      logQuery: (sql, params) => statements.push({ sql, params: (params ?? []) as unknown[] }),
      logQueryError: () => undefined,
      logQuerySlow: () => undefined,
      logSchemaBuild: () => undefined,
      logMigration: () => undefined,
      log: () => undefined,
    };
    recorded = await new DataSource({
      ...dataSourceOptions({ url: db.url, poolSize: 2, applicationName: 'reopen-test-keys' }),
      logger,
    }).initialize();
  });
  afterAll(async () => {
    await recorded?.destroy();
    await db?.drop();
  });
  beforeEach(() => {
    now = Date.now();
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  /** Waits (at most 5 s, by count: Date.now is held still) until the background re-verification has landed. */
  async function until(done: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (done()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`never happened: ${what}`);
  }

  /** n new keys, each verified once by a new cache (the API's, on the recording DataSource). */
  async function keysInUse(n: number): Promise<{ verifier: ApiKeyVerifier; secrets: string[]; ids: string[] }> {
    const created = [];
    for (let i = 0; i < n; i++) created.push(await owner.create(i % 2 ? 'signals' : 'viewer', `client-${i}-${now}`));
    const secrets = created.map((k) => k.secret);
    const verifier = new ApiKeyVerifier(new ApiKeyService(recorded), settings);
    for (const s of secrets) expect(await verifier.verify(s)).not.toBeNull();
    return { verifier, secrets, ids: created.map((k) => k.id) };
  }

  it('re-verifies every key in use with one statement per refresh, which records their use as verify does', async () => {
    const { verifier, secrets } = await keysInUse(6);
    await db.owner.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes'`);
    statements.length = 0;
    for (let refresh = 1; refresh <= 3; refresh++) {
      now += 1100; // past half the cache time: each key, served, is due for re-verification
      for (const s of secrets) expect(verifier.cached(s)).toBeDefined();
      // Served again just before the previous verification would expire: only the refresh that was sent as the
      // first key was served keeps them served (a refresh is dated by when it was sent).
      now += 999;
      await until(() => secrets.every((s) => verifier.cached(s) !== undefined), `refresh ${refresh}`);
      now -= 999;
      expect(statements).toHaveLength(refresh);
      expect(statements[refresh - 1].sql).toMatch(/key_hash = ANY\(\$1\)/);
      expect([...(statements[refresh - 1].params[0] as string[])].sort()).toEqual(secrets.map(hashApiKey).sort());
    }
    const touched = await db.owner.query<{ recent: boolean }[]>(
      `SELECT last_used_at > now() - interval '1 minute' AS recent FROM api_keys WHERE key_hash = ANY($1)`,
      [secrets.map(hashApiKey)],
    );
    expect(touched).toEqual(secrets.map(() => ({ recent: true })));
  });

  it('refuses a revoked key at the first refresh after the revocation, within the cache time', async () => {
    const { verifier, secrets, ids } = await keysInUse(3);
    const [revoked, ...kept] = secrets;
    expect(await owner.revoke(ids[0], 'ops:test')).toBe(true);
    statements.length = 0;
    expect(await verifier.verify(revoked)).not.toBeNull(); // still cached: the bound is the cache time
    now += 1100;
    for (const s of secrets) expect(verifier.cached(s)).toBeDefined();
    await until(() => verifier.cached(revoked) === undefined, 'the revoked key dropped');
    expect(await verifier.verify(revoked)).toBeNull(); // refused from memory, 1.1 s after its verification
    for (const s of kept) expect(await verifier.verify(s)).not.toBeNull();
    expect(statements).toHaveLength(1); // the refresh; the refusal and the other keys cost nothing
  });
});
