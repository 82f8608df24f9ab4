import { createTestDatabase, TestDatabase } from '@app/testing';
import { API_KEY_SHAPE, ApiKeyService, hashApiKey } from './api-key.service';

describe('ApiKeyService (real PostgreSQL)', () => {
  let db: TestDatabase;
  let keys: ApiKeyService;
  beforeAll(async () => {
    db = await createTestDatabase('apikeys');
    // Created, listed and revoked by the owner, as the CLI does (the service's role may not insert or revoke keys).
    keys = new ApiKeyService(db.owner);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('creates a key, stores only its hash, and verifies the secret', async () => {
    const created = await keys.create('ops', 'alice');
    expect(created.secret).toMatch(/^rk_ops_[0-9a-f]{6}_[A-Za-z0-9_-]{43}$/);
    for (const role of ['support', 'viewer', 'signals'] as const) {
      expect((await keys.create(role, `shape-${role}`)).secret).toMatch(API_KEY_SHAPE); // the API's pre-check
    }
    const stored = await db.dataSource.query(`SELECT name, role, key_hash, prefix FROM api_keys WHERE id = $1`, [
      created.id,
    ]);
    expect(stored).toEqual([
      { name: 'alice', role: 'ops', key_hash: hashApiKey(created.secret), prefix: created.secret.slice(0, 13) },
    ]);
    expect(JSON.stringify(stored)).not.toContain(created.secret);
    expect((await keys.verify(created.secret))?.id).toBe(created.id);
    expect(await keys.verify(`${created.secret}x`)).toBeNull();
  });

  it('refuses an unknown role or an empty name', async () => {
    await expect(keys.create('root' as never, 'x')).rejects.toThrow(/unknown role "root"/);
    await expect(keys.create('viewer', '  ')).rejects.toThrow(/needs a name/);
  });

  it('revokes a key once, audited; a revoked key no longer verifies', async () => {
    const created = await keys.create('support', 'bob');
    expect(await keys.revoke(created.id, 'ops:alice')).toBe(true);
    expect(await keys.revoke(created.id, 'ops:alice')).toBe(false);
    expect(await keys.verify(created.secret)).toBeNull();
    const audit = await db.dataSource.query(
      `SELECT actor, action FROM audit_log WHERE action LIKE 'api_key.%' AND detail->>'id' = $1 ORDER BY id`,
      [created.id],
    );
    expect(audit).toEqual([
      { actor: 'cli', action: 'api_key.created' },
      { actor: 'ops:alice', action: 'api_key.revoked' },
    ]);
  });

  it('records when a key was last used, at most once a minute, and lists keys without their hashes', async () => {
    const created = await keys.create('viewer', 'dashboard');
    const lastUsed = async () =>
      (
        await db.dataSource.query<{ last_used_at: Date | null }[]>(`SELECT last_used_at FROM api_keys WHERE id = $1`, [
          created.id,
        ])
      )[0].last_used_at;
    expect(await lastUsed()).toBeNull();
    expect(await keys.verify(created.secret)).toEqual({ id: created.id, name: 'dashboard', role: 'viewer' });
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    await keys.verify(created.secret);
    expect(await lastUsed()).toEqual(first); // within the minute: no second write
    await db.dataSource.query(`UPDATE api_keys SET last_used_at = now() - interval '2 minutes' WHERE id = $1`, [
      created.id,
    ]);
    await keys.verify(created.secret);
    expect((await lastUsed())!.getTime()).toBeGreaterThanOrEqual(first!.getTime());

    const listed = await keys.list();
    const mine = listed.find((k) => k.id === created.id);
    expect(mine).toMatchObject({
      name: 'dashboard',
      role: 'viewer',
      prefix: /^rk_viewer_[0-9a-f]{6}/.exec(created.secret)![0],
      revokedAt: null,
    });
    expect(mine?.lastUsedAt).toBeInstanceOf(Date);
    expect(JSON.stringify(listed)).not.toMatch(/key_?hash/i);
    // Active keys first: every revoked key comes after every active one.
    const firstRevoked = listed.findIndex((k) => k.revokedAt !== null);
    expect(firstRevoked).toBeGreaterThan(0);
    expect(listed.slice(firstRevoked).every((k) => k.revokedAt !== null)).toBe(true);
  });
});
