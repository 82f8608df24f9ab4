import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiKeyEntity, ApiRole } from '@app/db';
import { audit } from '../db/audit-log';
import { withTransaction } from '../db/transaction';

export const API_ROLES: readonly ApiRole[] = ['ops', 'support', 'viewer', 'signals'];

/** The shape of every secret create() makes: `rk_<role>_<6 hex>_<32 random bytes in base64url>`. */
export const API_KEY_SHAPE = new RegExp(`^rk_(?:${API_ROLES.join('|')})_[0-9a-f]{6}_[A-Za-z0-9_-]{43}$`);

/** A key as verified for a request. */
export type ActiveApiKey = Pick<ApiKeyEntity, 'id' | 'name' | 'role'>;

/** A key as listed for ops (never its hash). */
export type ListedApiKey = Pick<
  ApiKeyEntity,
  'id' | 'name' | 'role' | 'prefix' | 'createdAt' | 'lastUsedAt' | 'revokedAt'
>;

/** last_used_at is written at most this often per key: a poller does not turn every check into a write. */
export const LAST_USED_RESOLUTION_SECONDS = 60;

export interface CreatedApiKey {
  id: string;
  name: string;
  role: ApiRole;
  /** The secret: shown once, never stored. */
  secret: string;
}

/** Keys are 32 random bytes: a plain SHA-256 is enough to store them (no dictionary to attack). */
export function hashApiKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

@Injectable()
export class ApiKeyService {
  constructor(private readonly dataSource: DataSource) {}

  async create(role: ApiRole, name: string): Promise<CreatedApiKey> {
    if (!API_ROLES.includes(role)) throw new Error(`unknown role "${role}": use one of ${API_ROLES.join(', ')}`);
    if (!name.trim()) throw new Error('a key needs a name (who or what uses it)');
    const prefix = `rk_${role}_${randomBytes(3).toString('hex')}`;
    const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
    const saved = await withTransaction(this.dataSource, async ({ sql, manager: m }) => {
      const key = await m.save(
        m.create(ApiKeyEntity, { name: name.trim(), role, prefix, keyHash: hashApiKey(secret) }),
      );
      await audit(sql, {
        actor: 'cli',
        action: 'api_key.created',
        detail: { id: key.id, name: key.name, role, prefix },
      });
      return key;
    });
    return { id: saved.id, name: saved.name, role, secret };
  }

  /**
   * The active key for a secret, or null (unknown or revoked), in one statement that also records when the key
   * was last used (to the minute: ops can see which keys are idle before revoking them).
   */
  async verify(secret: string): Promise<ActiveApiKey | null> {
    const rows = await this.dataSource.query<ActiveApiKey[]>(
      `WITH k AS (SELECT id, name, role, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL),
       touched AS (
         UPDATE api_keys a SET last_used_at = now() FROM k
          WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2))
       )
       SELECT id, name, role FROM k`,
      [hashApiKey(secret), LAST_USED_RESOLUTION_SECONDS],
    );
    return rows[0] ?? null;
  }

  /** Every key, active ones first, newest first. */
  async list(): Promise<ListedApiKey[]> {
    return this.dataSource.getRepository(ApiKeyEntity).find({
      select: { id: true, name: true, role: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
      order: { revokedAt: { direction: 'DESC', nulls: 'FIRST' }, createdAt: 'DESC' },
    });
  }

  async revoke(id: string, actor: string): Promise<boolean> {
    return withTransaction(this.dataSource, async ({ sql }) => {
      const rows = await sql<{ id: string; name: string; role: string }>(
        `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id, name, role`,
        [id],
      );
      if (!rows.length) return false;
      await audit(sql, { actor, action: 'api_key.revoked', detail: rows[0] });
      return true;
    });
  }
}
