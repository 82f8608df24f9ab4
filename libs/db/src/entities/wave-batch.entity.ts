import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

export type BatchKind = 'forward' | 'rollback';
export type BatchState = 'claimed' | 'done' | 'released';

/** One batch call (forward or rollback). Its idempotency key is fixed at claim time and survives retries. */
@Entity({ name: 'wave_batches' })
export class WaveBatchEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintNumber })
  id!: number;

  @Column({ name: 'wave_id', type: 'uuid' })
  waveId!: string;

  @Column({ type: 'text' })
  kind!: BatchKind;

  @Column({ name: 'batch_no', type: 'integer' })
  batchNo!: number;

  @Column({ type: 'text', default: 'claimed' })
  state!: BatchState;

  @Column({ type: 'integer' })
  size!: number;

  @Column({ name: 'first_seq', type: 'integer' })
  firstSeq!: number;

  @Column({ name: 'last_seq', type: 'integer' })
  lastSeq!: number;

  @Column({ name: 'idempotency_key', type: 'text', unique: true })
  idempotencyKey!: string;

  @Column({ type: 'smallint', default: 0 })
  attempts!: number;

  @Column({ name: 'claimed_by', type: 'text', nullable: true })
  claimedBy!: string | null;

  @Column({ name: 'lease_until', type: 'timestamptz', nullable: true })
  leaseUntil!: Date | null;

  /** Lease generation: 1 at the claim, +1 at each takeover; every worker write for the batch names it (fencing). */
  @Column({ name: 'lease_gen', type: 'integer', default: 1 })
  leaseGen!: number;

  /** The current attempt's send permit: its call starts before this instant or not at all. */
  @Column({ name: 'send_deadline', type: 'timestamptz', nullable: true })
  sendDeadline!: Date | null;

  /** Forward: each member's prior state as its first send permit saw it, `[seq, imap, pop3, version]`. */
  @Column({ type: 'jsonb', nullable: true })
  priors!: [number, boolean, boolean, number | null][] | null;

  @Column({ type: 'jsonb', nullable: true })
  summary!: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'completed_at', type: 'timestamptz', nullable: true })
  completedAt!: Date | null;
}
