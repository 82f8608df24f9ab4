import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintNumber } from './transformers';

@Entity({ name: 'accounts' })
export class AccountEntity {
  @PrimaryColumn({ type: 'bigint', generated: 'identity', generatedIdentity: 'ALWAYS', transformer: bigintNumber })
  id!: number;

  @Column({ type: 'text', unique: true })
  login!: string;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  cohorts!: string[];

  @Column({ type: 'boolean', default: false })
  leaked!: boolean;

  @Column({ name: 'password_changed_at', type: 'timestamptz', nullable: true })
  passwordChangedAt!: Date | null;

  @Column({ name: 'imap_enabled', type: 'boolean', default: false })
  imapEnabled!: boolean;

  @Column({ name: 'pop3_enabled', type: 'boolean', default: false })
  pop3Enabled!: boolean;

  @Column({ name: 'mailstore_version', type: 'integer', nullable: true })
  mailstoreVersion!: number | null;

  @Column({ name: 'state_observed_at', type: 'timestamptz', nullable: true })
  stateObservedAt!: Date | null;

  @Column({ type: 'boolean', default: false })
  held!: boolean;

  @Column({ name: 'hold_reason', type: 'text', nullable: true })
  holdReason!: string | null;

  @Column({ name: 'hold_ticket', type: 'text', nullable: true })
  holdTicket!: string | null;

  @Column({ name: 'held_by', type: 'text', nullable: true })
  heldBy!: string | null;

  @Column({ name: 'held_at', type: 'timestamptz', nullable: true })
  heldAt!: Date | null;

  @Column({ name: 'override_reason', type: 'text', nullable: true })
  overrideReason!: string | null;

  @Column({ name: 'override_ticket', type: 'text', nullable: true })
  overrideTicket!: string | null;

  @Column({ name: 'override_by', type: 'text', nullable: true })
  overrideBy!: string | null;

  @Column({ name: 'override_at', type: 'timestamptz', nullable: true })
  overrideAt!: Date | null;

  @Column({ name: 'override_expires_at', type: 'timestamptz', nullable: true })
  overrideExpiresAt!: Date | null;

  @Column({ type: 'integer', default: 1 })
  version!: number;

  @Column({ name: 'created_at', type: 'timestamptz', default: () => 'now()' })
  createdAt!: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt!: Date;
}
