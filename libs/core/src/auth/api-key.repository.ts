import { DataSource, EntityManager } from 'typeorm';
import { ApiKeyEntity } from '@app/db';
import { Sql } from '../db/sql';

/** A key as verified for a request. */
export type ActiveApiKey = Pick<ApiKeyEntity, 'id' | 'name' | 'role'>;

/** An active key with the hash it was found by. */
export type VerifiedApiKey = ActiveApiKey & Pick<ApiKeyEntity, 'keyHash'>;

/** A key as listed for ops (never its hash). */
export type ListedApiKey = Pick<
  ApiKeyEntity,
  'id' | 'name' | 'role' | 'prefix' | 'createdAt' | 'lastUsedAt' | 'revokedAt'
>;

/**
 * The statements on API keys. SQL only: what a key looks like and how it is hashed is ApiKeyService's. Statements in
 * a transaction take its executor; the others run on the pool.
 */
export class ApiKeyRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(
    m: EntityManager,
    key: Pick<ApiKeyEntity, 'name' | 'role' | 'prefix' | 'keyHash'>,
  ): Promise<ApiKeyEntity> {
    return m.save(m.create(ApiKeyEntity, key));
  }

  /**
   * The active keys among these hashes (unknown and revoked ones are left out), each with its hash, in one statement
   * that also records when each was last used, at most once per `resolutionSeconds`. One hash for a request's key;
   * many for the API's cache re-verifying every key it holds at once (apps/api/src/auth/api-key.verifier.ts).
   */
  async findActiveAndTouch(keyHashes: readonly string[], resolutionSeconds: number): Promise<VerifiedApiKey[]> {
    return this.dataSource.query<VerifiedApiKey[]>(
      `WITH k AS (
         SELECT id, name, role, key_hash, last_used_at FROM api_keys WHERE key_hash = ANY($1) AND revoked_at IS NULL
       ),
       touched AS (
         UPDATE api_keys a SET last_used_at = now() FROM k
          WHERE a.id = k.id AND (k.last_used_at IS NULL OR k.last_used_at < now() - make_interval(secs => $2))
       )
       SELECT id, name, role, key_hash AS "keyHash" FROM k`,
      [keyHashes, resolutionSeconds],
    );
  }

  /** Every key, active ones first, newest first. */
  async list(): Promise<ListedApiKey[]> {
    return this.dataSource.getRepository(ApiKeyEntity).find({
      select: { id: true, name: true, role: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
      order: { revokedAt: { direction: 'DESC', nulls: 'FIRST' }, createdAt: 'DESC' },
    });
  }

  /** Revokes an active key; undefined when there is none with this id. */
  async revoke(sql: Sql, id: string): Promise<{ id: string; name: string; role: string } | undefined> {
    const [row] = await sql<{ id: string; name: string; role: string }>(
      `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id, name, role`,
      [id],
    );
    return row;
  }
}
