import { AccountEntity } from './account.entity';
import { ApiKeyEntity } from './api-key.entity';
import { OperationEntity } from './operation.entity';
import { WaveEntity } from './wave.entity';

export * from './account.entity';
export * from './api-key.entity';
export * from './operation.entity';
export * from './wave.entity';

/**
 * Only the tables read or written through TypeORM's repositories have an entity; the others are reached by SQL
 * alone. entities.int-spec checks each one against the migrated schema.
 */
export const ENTITIES = [AccountEntity, ApiKeyEntity, OperationEntity, WaveEntity];
