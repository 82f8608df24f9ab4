import { ApiKeyService } from '@app/core';
import { ApiRole, createDataSource } from '@app/db';

/** One key per role, and a second ops key (`ops2`): wave 2's schedule needs two (docs/approvals.md). */
export type DemoKeys = Record<ApiRole | 'ops2', { name: string; secret: string }>;

const ROLES: readonly ApiRole[] = ['ops', 'support', 'viewer', 'signals'];

/**
 * One key per role and a second ops key, as `npm run cli -- create-api-key` makes them (same service, on the demo database): the only
 * step that does not go through the HTTP API, since a key is what the API asks for (and the owner's to make: the
 * API's own role may not insert keys). Names carry a run stamp so a
 * demo database that was not reset still takes them.
 */
export async function createDemoKeys(ownerDatabaseUrl: string): Promise<DemoKeys> {
  const ds = createDataSource({ url: ownerDatabaseUrl, poolSize: 1, applicationName: 'reopen-demo' });
  await ds.initialize();
  try {
    const service = new ApiKeyService(ds);
    const stamp = new Date().toISOString().slice(11, 19).replace(/:/g, '');
    const keys = {} as DemoKeys;
    for (const role of ROLES) {
      const key = await service.create(role, `demo-${role}-${stamp}`);
      keys[role] = { name: key.name, secret: key.secret };
    }
    const second = await service.create('ops', `demo-ops2-${stamp}`);
    keys.ops2 = { name: second.name, secret: second.secret };
    return keys;
  } finally {
    await ds.destroy();
  }
}
