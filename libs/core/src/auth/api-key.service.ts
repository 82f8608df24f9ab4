import { Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ApiRole } from '@app/db';
import { ApprovalRepository } from '../approvals/approval.repository';
import { audit } from '../db/audit-log';
import { withTransaction } from '../db/transaction';
import { ActiveApiKey, ApiKeyRepository, ListedApiKey } from './api-key.repository';

export type { ActiveApiKey, ListedApiKey } from './api-key.repository';

export const API_ROLES: readonly ApiRole[] = ['ops', 'support', 'viewer', 'signals'];

/** The shape of every secret create() makes: `rk_<role>_<6 hex>_<32 random bytes in base64url>`. */
export const API_KEY_SHAPE = new RegExp(`^rk_(?:${API_ROLES.join('|')})_[0-9a-f]{6}_[A-Za-z0-9_-]{43}$`);

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
  private readonly keys: ApiKeyRepository;

  constructor(private readonly dataSource: DataSource) {
    this.keys = new ApiKeyRepository(dataSource);
  }

  async create(role: ApiRole, name: string): Promise<CreatedApiKey> {
    if (!API_ROLES.includes(role)) throw new Error(`unknown role "${role}": use one of ${API_ROLES.join(', ')}`);
    if (!name.trim()) throw new Error('a key needs a name (who or what uses it)');
    const prefix = `rk_${role}_${randomBytes(3).toString('hex')}`;
    const secret = `${prefix}_${randomBytes(32).toString('base64url')}`;
    const saved = await withTransaction(this.dataSource, async ({ sql, manager }) => {
      const key = await this.keys.insert(manager, { name: name.trim(), role, prefix, keyHash: hashApiKey(secret) });
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
    const [key] = await this.keys.findActiveAndTouch([hashApiKey(secret)], LAST_USED_RESOLUTION_SECONDS);
    return key ? { id: key.id, name: key.name, role: key.role } : null;
  }

  /**
   * verify for many keys at once, by their hashes (hashApiKey), in one statement: the active ones by hash, use
   * recorded as verify records it. A hash missing from the answer is unknown or revoked. For a cache that re-verifies
   * every key it holds (the API's ApiKeyVerifier) with one query instead of one per key.
   */
  async verifyHashes(keyHashes: readonly string[]): Promise<Map<string, ActiveApiKey>> {
    const found = new Map<string, ActiveApiKey>();
    if (keyHashes.length === 0) return found;
    for (const k of await this.keys.findActiveAndTouch(keyHashes, LAST_USED_RESOLUTION_SECONDS)) {
      found.set(k.keyHash, { id: k.id, name: k.name, role: k.role });
    }
    return found;
  }

  /** Every key, active ones first, newest first. */
  async list(): Promise<ListedApiKey[]> {
    return this.keys.list();
  }

  async revoke(id: string, actor: string): Promise<boolean> {
    return withTransaction(this.dataSource, async ({ sql }) => {
      const revoked = await this.keys.revoke(sql, id);
      if (!revoked) return false;
      await audit(sql, { actor, action: 'api_key.revoked', detail: revoked });
      // What the key asked for or approved and was not done yet no longer stands (docs/approvals.md).
      await new ApprovalRepository().endOfKey(sql, id, actor);
      return true;
    });
  }
}
