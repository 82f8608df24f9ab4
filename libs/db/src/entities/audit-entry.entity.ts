import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

/** The append-only ledger and audit log. The database refuses UPDATE, DELETE and TRUNCATE on it. */
@Entity({ name: 'audit_log' })
export class AuditEntryEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintNumber })
  id!: number;

  @Column({ type: 'timestamptz', default: () => 'now()' })
  at!: Date;

  @Column({ type: 'text' })
  actor!: string;

  @Column({ type: 'text' })
  action!: string;

  @Column({ name: 'wave_id', type: 'uuid', nullable: true })
  waveId!: string | null;

  @Column({ name: 'account_id', type: 'bigint', nullable: true, transformer: bigintNumber })
  accountId!: number | null;

  @Column({ type: 'text', nullable: true })
  login!: string | null;

  @Column({ name: 'operation_id', type: 'uuid', nullable: true })
  operationId!: string | null;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ type: 'text', nullable: true })
  ticket!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  before!: Record<string, unknown> | null;

  @Column({ type: 'jsonb', nullable: true })
  after!: Record<string, unknown> | null;

  @Column({ type: 'jsonb', nullable: true })
  detail!: Record<string, unknown> | null;
}
