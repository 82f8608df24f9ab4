import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { OperationState } from '@app/domain';
import { bigintNumber } from './transformers';

export type OperationKind = 'enable' | 'disable' | 'rollback';
export type { OperationState };

/** A single-account change requested by support: the priority lane ahead of waves. */
@Entity({ name: 'operations' })
export class OperationEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ name: 'account_id', type: 'bigint', transformer: bigintNumber })
  accountId!: number;

  @Column({ type: 'text' })
  login!: string;

  @Column({ type: 'text' })
  kind!: OperationKind;

  @Column({ type: 'text', array: true })
  protocols!: string[];

  @Column({ type: 'text' })
  reason!: string;

  @Column({ type: 'text' })
  ticket!: string;

  @Column({ type: 'text' })
  actor!: string;

  @Column({ type: 'text', default: 'queued' })
  state!: OperationState;

  @Column({ type: 'text', nullable: true })
  outcome!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  error!: Record<string, unknown> | null;

  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  /** The caller's own Idempotency-Key, when it sent one (unique per actor), and what it was sent with. */
  @Column({ name: 'client_key', type: 'text', nullable: true })
  clientKey!: string | null;

  @Column({ name: 'client_request_hash', type: 'text', nullable: true })
  clientRequestHash!: string | null;

  @Column({ type: 'smallint', default: 0 })
  attempts!: number;

  @Column({ name: 'prior_imap', type: 'boolean', nullable: true })
  priorImap!: boolean | null;

  @Column({ name: 'prior_pop3', type: 'boolean', nullable: true })
  priorPop3!: boolean | null;

  @Column({ name: 'prior_version', type: 'integer', nullable: true })
  priorVersion!: number | null;

  @Column({ name: 'result_version', type: 'integer', nullable: true })
  resultVersion!: number | null;

  /** Rollback of one account: the wave member it restores, and the version our change produced (If-Match). */
  @Column({ name: 'wave_id', type: 'uuid', nullable: true })
  waveId!: string | null;

  @Column({ name: 'wave_seq', type: 'integer', nullable: true })
  waveSeq!: number | null;

  @Column({ name: 'if_version', type: 'integer', nullable: true })
  ifVersion!: number | null;

  /** What a support enable overrode (`held`, `password_reset_required`, `not_found`); empty otherwise. */
  @Column({ type: 'text', array: true, default: () => "'{}'" })
  overrides!: string[];

  /** The expiry of the override of `password_reset_required` this enable recorded, if it recorded one. */
  @Column({ name: 'override_expires_at', type: 'timestamptz', nullable: true })
  overrideExpiresAt!: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;

  /** When its current run was permitted (PostgreSQL's clock, before its calls): AccountRepository.recordObservedAccess. */
  @Column({ name: 'attempted_at', type: 'timestamptz', nullable: true })
  attemptedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
