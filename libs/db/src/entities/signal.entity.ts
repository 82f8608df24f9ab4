import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

/** A pushed security signal, e.g. failed POP/IMAP logins per minute on a cohort. */
@Entity({ name: 'signals' })
export class SignalEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintNumber })
  id!: number;

  @Column({ type: 'text' })
  name!: string;

  @Column({ type: 'double precision' })
  value!: number;

  @Column({ name: 'window_seconds', type: 'integer' })
  windowSeconds!: number;

  @Column({ name: 'observed_at', type: 'timestamptz' })
  observedAt!: Date;

  @Column({ type: 'text', nullable: true })
  cohort!: string | null;

  @Column({ name: 'received_at', type: 'timestamptz', default: () => 'now()' })
  receivedAt!: Date;

  @Column({ type: 'text', nullable: true })
  source!: string | null;
}
