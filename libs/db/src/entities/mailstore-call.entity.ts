import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

/** One call to the mailstore on behalf of a wave or an operation; gates read error rate and latency here. */
@Entity({ name: 'mailstore_calls' })
export class MailstoreCallEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintNumber })
  id!: number;

  @Column({ name: 'wave_id', type: 'uuid', nullable: true })
  waveId!: string | null;

  @Column({ name: 'operation_id', type: 'uuid', nullable: true })
  operationId!: string | null;

  @Column({ name: 'batch_id', type: 'bigint', nullable: true, transformer: bigintNumber })
  batchId!: number | null;

  @Column({ name: 'started_at', type: 'timestamptz' })
  startedAt!: Date;

  @Column({ name: 'latency_ms', type: 'integer' })
  latencyMs!: number;

  @Column({ name: 'http_status', type: 'integer', nullable: true })
  httpStatus!: number | null;

  @Column({ type: 'text' })
  outcome!: string;

  @Column({ type: 'integer', default: 0 })
  items!: number;

  @Column({ name: 'item_errors', type: 'integer', default: 0 })
  itemErrors!: number;
}
