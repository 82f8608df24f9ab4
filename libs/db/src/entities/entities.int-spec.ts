/**
 * The entities against the schema the migrations build (synchronize is never on, so nothing else would notice an
 * entity that names a column the migrations renamed, or calls nullable what is NOT NULL): every entity's table and
 * columns exist with the entity's type and nullability, what the entity leaves to the database has a default there,
 * and no NOT NULL column without a default is missing from an entity that inserts rows.
 */
import { Column, DataSource, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { createTestDatabase, TestDatabase } from '@app/testing';
import { dataSourceOptions } from '../data-source';

interface DbColumn {
  table: string;
  column: string;
  type: string;
  nullable: boolean;
  /** A default, an identity or a generated expression: the database fills the column when an INSERT omits it. */
  filled: boolean;
}

/** Columns of the public schema as information_schema describes them; arrays as `<element type>[]`. */
async function schemaColumns(db: DataSource): Promise<DbColumn[]> {
  return db.query<DbColumn[]>(`
    SELECT c.table_name AS "table",
           c.column_name AS "column",
           CASE WHEN c.data_type = 'ARRAY' THEN e.data_type || '[]' ELSE c.data_type END AS "type",
           c.is_nullable = 'YES' AS "nullable",
           (c.column_default IS NOT NULL OR c.is_identity = 'YES' OR c.is_generated = 'ALWAYS') AS "filled"
      FROM information_schema.columns c
      LEFT JOIN information_schema.element_types e
        ON (e.object_catalog, e.object_schema, e.object_name, e.object_type, e.collection_type_identifier)
         = (c.table_catalog, c.table_schema, c.table_name, 'TABLE', c.dtd_identifier)
     WHERE c.table_schema = 'public'`);
}

/** Every way `entities` (as registered on `entities`) disagrees with the schema `catalog` reads; empty when none. */
async function schemaDrift(entities: DataSource, catalog: DataSource): Promise<string[]> {
  const columns = await schemaColumns(catalog);
  const problems: string[] = [];
  for (const entity of entities.entityMetadatas) {
    const table = entity.tableName;
    const inTable = new Map(columns.filter((c) => c.table === table).map((c) => [c.column, c]));
    if (inTable.size === 0) {
      problems.push(`${entity.name}: table ${table} does not exist`);
      continue;
    }
    for (const col of entity.columns) {
      const name = `${entity.name}.${col.propertyName} (${table}.${col.databaseName})`;
      const db = inTable.get(col.databaseName);
      if (!db) {
        problems.push(`${name}: no such column`);
        continue;
      }
      const type = entities.driver.normalizeType(col) + (col.isArray ? '[]' : '');
      if (type !== db.type) problems.push(`${name}: entity type ${type}, column type ${db.type}`);
      if (col.isNullable !== db.nullable) {
        problems.push(
          `${name}: entity ${col.isNullable ? 'nullable' : 'NOT NULL'}, column ${db.nullable ? 'nullable' : 'NOT NULL'}`,
        );
      }
      if ((col.default !== undefined || col.isGenerated) && !db.filled) {
        problems.push(`${name}: the entity leaves it to the database, which has no default for it`);
      }
    }
    const mapped = new Set(entity.columns.map((c) => c.databaseName));
    for (const db of inTable.values()) {
      if (!mapped.has(db.column) && !db.nullable && !db.filled) {
        problems.push(`${entity.name}: ${table}.${db.column} is NOT NULL without a default but not in the entity`);
      }
    }
  }
  return problems;
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('entities');
});
afterAll(async () => {
  await db?.drop();
});

describe('entities against the migrated schema (real PostgreSQL)', () => {
  it('every registered entity matches its table: columns, types, nullability, defaults', async () => {
    expect(db.dataSource.entityMetadatas.map((e) => e.tableName).sort()).toEqual([
      'accounts',
      'api_keys',
      'operations',
      'waves',
    ]);
    expect(await schemaDrift(db.dataSource, db.owner)).toEqual([]);
  });

  // Entities that drift on purpose, registered on a DataSource of their own: the check above can fail.
  @Entity({ name: 'api_keys' })
  class DriftedApiKey {
    @PrimaryGeneratedColumn('uuid')
    id!: string;

    @Column({ type: 'integer' })
    name!: number;

    @Column({ type: 'text' })
    prefix!: string;

    @Column({ name: 'revoked_at', type: 'timestamptz' })
    revokedAt!: Date;

    @Column({ name: 'key_hash', type: 'text', default: 'none' })
    keyHash!: string;

    @Column({ name: 'renamed_away', type: 'text', nullable: true })
    renamedAway!: string | null;
  }

  @Entity({ name: 'no_such_table' })
  class Missing {
    @PrimaryColumn({ type: 'text' })
    id!: string;
  }

  it('names each way an entity drifts from the schema', async () => {
    const drifted = new DataSource({
      ...dataSourceOptions({ url: db.ownerUrl, poolSize: 1, logQueryErrors: false }),
      entities: [DriftedApiKey, Missing],
    });
    await drifted.initialize();
    try {
      expect((await schemaDrift(drifted, db.owner)).sort()).toEqual([
        'DriftedApiKey.keyHash (api_keys.key_hash): the entity leaves it to the database, which has no default for it',
        'DriftedApiKey.name (api_keys.name): entity type integer, column type text',
        'DriftedApiKey.renamedAway (api_keys.renamed_away): no such column',
        'DriftedApiKey.revokedAt (api_keys.revoked_at): entity NOT NULL, column nullable',
        'DriftedApiKey: api_keys.role is NOT NULL without a default but not in the entity',
        'Missing: table no_such_table does not exist',
      ]);
    } finally {
      await drifted.destroy();
    }
  });
});
