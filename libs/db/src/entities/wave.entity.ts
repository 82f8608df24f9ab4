import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Protocol, TimeWindows } from '@app/domain';
import { bigintNumber } from './transformers';

export type WaveStateName =
  'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'cancelled' | 'halted' | 'rolling_back' | 'rolled_back';

export type WaveSelectorJson =
  { type: 'cohorts'; cohorts: string[] } | { type: 'logins'; logins: string[] } | { type: 'remaining' };

export interface WaveStepJson {
  percent: number;
  bakeSeconds: number;
}

@Entity({ name: 'waves' })
export class WaveEntity {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'text', nullable: true })
  description!: string | null;

  @Column({ type: 'jsonb' })
  selector!: WaveSelectorJson;

  @Column({ type: 'text', array: true })
  protocols!: Protocol[];

  @Column({ type: 'text', default: 'draft' })
  state!: WaveStateName;

  @Column({ name: 'status_reason', type: 'text', nullable: true })
  statusReason!: string | null;

  @Column({ name: 'status_detail', type: 'jsonb', nullable: true })
  statusDetail!: Record<string, unknown> | null;

  @Column({ name: 'start_local', type: 'text', nullable: true })
  startLocal!: string | null;

  @Column({ name: 'time_zone', type: 'text', nullable: true })
  timeZone!: string | null;

  @Column({ name: 'start_at', type: 'timestamptz', nullable: true })
  startAt!: Date | null;

  @Column({ name: 'rate_per_second', type: 'double precision' })
  ratePerSecond!: number;

  @Column({ name: 'rollback_rate_per_second', type: 'double precision' })
  rollbackRatePerSecond!: number;

  @Column({ name: 'batch_size', type: 'integer' })
  batchSize!: number;

  @Column({ type: 'integer', default: 4 })
  concurrency!: number;

  @Column({ type: 'jsonb', default: () => "'[]'" })
  steps!: WaveStepJson[];

  @Column({ type: 'jsonb', default: () => "'[]'" })
  gates!: Record<string, unknown>[];

  /** The per-account reaction to credential stuffing ({failures, distinctIps, windowSeconds}), or null. */
  @Column({ type: 'jsonb', nullable: true })
  reclose!: { failures: number; distinctIps: number; windowSeconds: number } | null;

  /** Allowed weekly ranges and blackouts (libs/domain time-windows.ts); null: any time. */
  @Column({ type: 'jsonb', nullable: true })
  windows!: TimeWindows | null;

  /** The wave's own two-person approval rules on top of the deployment's ({require, rateBound}), or null. */
  @Column({ name: 'approval_policy', type: 'jsonb', nullable: true })
  approvalPolicy!: { require: string[]; rateBound: number | null } | null;

  @Column({ name: 'current_step', type: 'integer', default: 0 })
  currentStep!: number;

  @Column({ name: 'step_limit_seq', type: 'integer', nullable: true })
  stepLimitSeq!: number | null;

  @Column({ name: 'bake_until', type: 'timestamptz', nullable: true })
  bakeUntil!: Date | null;

  @Column({ name: 'member_count', type: 'integer', nullable: true })
  memberCount!: number | null;

  @Column({ name: 'membership_frozen_at', type: 'timestamptz', nullable: true })
  membershipFrozenAt!: Date | null;

  @Column({ name: 'schedule_fired_at', type: 'timestamptz', nullable: true })
  scheduleFiredAt!: Date | null;

  @Column({ name: 'schedule_lateness_ms', type: 'bigint', nullable: true, transformer: bigintNumber })
  scheduleLatenessMs!: number | null;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt!: Date | null;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;

  @Column({ name: 'rollback_started_at', type: 'timestamptz', nullable: true })
  rollbackStartedAt!: Date | null;

  @Column({ name: 'rollback_completed_at', type: 'timestamptz', nullable: true })
  rollbackCompletedAt!: Date | null;

  /** The latest gate evaluation: [{gate, status, value, threshold, control, reason}]. */
  @Column({ name: 'gate_state', type: 'jsonb', nullable: true })
  gateState!: Record<string, unknown>[] | null;

  @Column({ name: 'gate_evaluated_at', type: 'timestamptz', nullable: true })
  gateEvaluatedAt!: Date | null;

  /** Eventual propagation: read-back plan and result ({dueAt, sample, checked, mismatches}). */
  @Column({ type: 'jsonb', nullable: true })
  verification!: Record<string, unknown> | null;

  @Column({ name: 'verify_due_at', type: 'timestamptz', nullable: true })
  verifyDueAt!: Date | null;

  /** Bumped on every (re)start of dispatch; pumps of an older generation exit. */
  @Column({ type: 'integer', default: 0 })
  generation!: number;

  @Column({ name: 'created_by', type: 'text' })
  createdBy!: string;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}
