import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

export type MemberState = 'pending' | 'in_flight' | 'enabled' | 'skipped' | 'failed' | 'cancelled';
export type MemberRollbackState = 'pending' | 'in_flight' | 'rolled_back' | 'unchanged' | 'conflict' | 'failed';

/** One account in a wave's frozen membership, and what happened to it. Written per batch, never per account. */
@Entity({ name: 'wave_members' })
export class WaveMemberEntity {
  @PrimaryColumn({ name: 'wave_id', type: 'uuid' })
  waveId!: string;

  @PrimaryColumn({ type: 'integer' })
  seq!: number;

  @Column({ name: 'account_id', type: 'bigint', transformer: bigintNumber })
  accountId!: number;

  @Column({ type: 'text', default: 'pending' })
  state!: MemberState;

  @Column({ type: 'text', nullable: true })
  reason!: string | null;

  @Column({ name: 'batch_id', type: 'bigint', nullable: true, transformer: bigintNumber })
  batchId!: number | null;

  @Column({ type: 'smallint', default: 0 })
  attempts!: number;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey!: string | null;

  @Column({ name: 'prior_imap', type: 'boolean', nullable: true })
  priorImap!: boolean | null;

  @Column({ name: 'prior_pop3', type: 'boolean', nullable: true })
  priorPop3!: boolean | null;

  @Column({ name: 'prior_version', type: 'integer', nullable: true })
  priorVersion!: number | null;

  @Column({ name: 'result_version', type: 'integer', nullable: true })
  resultVersion!: number | null;

  @Column({ name: 'done_at', type: 'timestamptz', nullable: true })
  doneAt!: Date | null;

  @Column({ name: 'rollback_state', type: 'text', nullable: true })
  rollbackState!: MemberRollbackState | null;

  @Column({ name: 'rollback_reason', type: 'text', nullable: true })
  rollbackReason!: string | null;

  @Column({ name: 'rollback_batch_id', type: 'bigint', nullable: true, transformer: bigintNumber })
  rollbackBatchId!: number | null;

  @Column({ name: 'rolled_back_at', type: 'timestamptz', nullable: true })
  rolledBackAt!: Date | null;
}
