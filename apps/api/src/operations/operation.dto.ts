import { ApiProperty } from '@nestjs/swagger';
import type { OperationEntity } from '@app/db';

/** A single-account change requested by support, to poll until succeeded or failed. */
export class OperationDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() login!: string;
  @ApiProperty({ enum: ['enable', 'disable', 'rollback'] }) kind!: string;
  @ApiProperty({ type: [String], example: ['imap', 'pop3'] }) protocols!: string[];
  @ApiProperty() reason!: string;
  @ApiProperty() ticket!: string;
  @ApiProperty({ example: 'support:bob' }) actor!: string;
  @ApiProperty({
    type: [String],
    example: ['password_reset_required'],
    description: 'what a support enable overrode (held, password_reset_required) or noted (not_found)',
  })
  overrides!: string[];
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'the expiry of the override of password_reset_required this enable recorded',
  })
  overrideExpiresAt!: Date | null;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed'] }) state!: string;
  @ApiProperty({ nullable: true, type: String, example: 'applied' }) outcome!: string | null;
  @ApiProperty({ nullable: true, type: Object }) error!: Record<string, unknown> | null;
  @ApiProperty() attempts!: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt!: Date;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) completedAt!: Date | null;

  static from(op: OperationEntity): OperationDto {
    return {
      id: op.id,
      login: op.login,
      kind: op.kind,
      protocols: op.protocols,
      reason: op.reason,
      ticket: op.ticket,
      actor: op.actor,
      overrides: op.overrides,
      overrideExpiresAt: op.overrideExpiresAt,
      state: op.state,
      outcome: op.outcome,
      error: op.error,
      attempts: op.attempts,
      createdAt: op.createdAt,
      updatedAt: op.updatedAt,
      completedAt: op.completedAt,
    };
  }
}
