import { Client } from 'pg';
import { PrivatePostgres, startPrivatePostgres } from '@app/testing';
import { withDatabase } from './database-url';
import { migrate } from './migrate';

/** DATABASE_URL with this role and password (URL-encoded), on the cluster and database of `url`. */
function asRole(url: string, role: string, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = encodeURIComponent(password);
  return u.toString();
}

async function whoAmI(url: string): Promise<string> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<{ me: string }>('SELECT current_user AS me')).rows[0].me;
  } finally {
    await c.end();
  }
}

/**
 * As deployed (docker-compose.yml): a cluster that asks every client for its password. migrate creates the runtime
 * role with DATABASE_URL's password, and sets it again when it changes (a rotation).
 */
describe('the runtime role on a cluster with password authentication (private cluster)', () => {
  let pg: PrivatePostgres;
  beforeAll(async () => {
    pg = await startPrivatePostgres({ password: 'owner/pw' });
  });
  afterAll(() => {
    pg?.stop();
  });

  it("is created with DATABASE_URL's password, logs in with it only, and takes a new one on the next migrate", async () => {
    const owner = withDatabase(pg.url, 'reopen');
    const first = asRole(owner, 'reopen_app', 'first pw');
    expect((await migrate(owner, first)).runtimeRole).toEqual({ name: 'reopen_app', created: true, updated: false });
    expect(await whoAmI(first)).toBe('reopen_app');
    await expect(whoAmI(asRole(owner, 'reopen_app', 'guess'))).rejects.toThrow(/password authentication failed/);

    // Unchanged: nothing to set (the password is not sent again).
    expect((await migrate(owner, first)).runtimeRole).toEqual({ name: 'reopen_app', created: false, updated: false });

    const rotated = asRole(owner, 'reopen_app', 'second:pw');
    expect((await migrate(owner, rotated)).runtimeRole).toEqual({ name: 'reopen_app', created: false, updated: true });
    expect(await whoAmI(rotated)).toBe('reopen_app');
    await expect(whoAmI(first)).rejects.toThrow(/password authentication failed/);
  });
});
