import { AccountEntity } from './account.entity';
import { ApiKeyEntity } from './api-key.entity';
import { AuditEntryEntity } from './audit-entry.entity';
import { MailstoreCallEntity } from './mailstore-call.entity';
import { OperationEntity } from './operation.entity';
import { SignalEntity } from './signal.entity';
import { WaveBatchEntity } from './wave-batch.entity';
import { WaveCounterEntity } from './wave-counter.entity';
import { WaveMemberEntity } from './wave-member.entity';
import { WaveEntity } from './wave.entity';

export * from './account.entity';
export * from './api-key.entity';
export * from './audit-entry.entity';
export * from './mailstore-call.entity';
export * from './operation.entity';
export * from './signal.entity';
export * from './wave-batch.entity';
export * from './wave-counter.entity';
export * from './wave-member.entity';
export * from './wave.entity';

export const ENTITIES = [
  AccountEntity,
  ApiKeyEntity,
  AuditEntryEntity,
  MailstoreCallEntity,
  OperationEntity,
  SignalEntity,
  WaveBatchEntity,
  WaveCounterEntity,
  WaveEntity,
  WaveMemberEntity,
];
