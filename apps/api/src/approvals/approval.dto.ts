import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { APPROVAL_COMMANDS, APPROVAL_RULES, APPROVAL_STATES, type ApprovalState } from '@app/domain';
import { APPROVAL_PAGE } from '@app/core';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class ApprovalQueryDto {
  @ApiPropertyOptional({ enum: APPROVAL_STATES, default: 'pending' })
  @IsOptional()
  @IsIn(APPROVAL_STATES)
  state?: ApprovalState;

  @ApiPropertyOptional({ format: 'uuid', description: 'only the requests of this wave' })
  @IsOptional()
  @IsUUID()
  waveId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: APPROVAL_PAGE.max, default: APPROVAL_PAGE.default })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  limit?: number;
}

export class ApproveDto {
  @ApiPropertyOptional({ description: 'why it is fine (audited)', maxLength: 500 })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class RejectDto {
  @ApiProperty({ description: 'why not (audited)', maxLength: 500 })
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  reason!: string;
}

export class FieldChangeDto {
  @ApiProperty({ example: 'plan.rate_per_second' }) field!: string;
  @ApiPropertyOptional({ description: 'absent when the field was added' }) before?: unknown;
  @ApiPropertyOptional({ description: 'absent when the field was removed' }) after?: unknown;
}

export class SinceLastApprovalDto {
  @ApiProperty({ format: 'uuid' }) approvalId!: string;
  @ApiProperty({ type: String, format: 'date-time' }) approvedAt!: Date;
  @ApiProperty({ type: [FieldChangeDto] }) changes!: FieldChangeDto[];
}

export class ApprovalDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) waveId!: string | null;
  @ApiProperty({ enum: APPROVAL_COMMANDS }) command!: string;
  @ApiProperty({ enum: APPROVAL_RULES }) rule!: string;
  @ApiProperty({ type: Object, description: "the command's own input (an update's body)" })
  args!: Record<string, unknown>;
  @ApiProperty({ enum: APPROVAL_STATES }) state!: ApprovalState;
  @ApiProperty({ description: 'SHA-256 of the canonical plan, the preview counts, the command and its input' })
  hash!: string;
  @ApiProperty({ type: Object, nullable: true, description: "the wave's plan as stored, canonical" })
  plan!: Record<string, unknown> | null;
  @ApiProperty({
    type: Object,
    nullable: true,
    description:
      '{scope, eligible, eligibleDigest (selector scope: a digest of who is eligible), heldBack: {reason: n}}',
  })
  counts!: Record<string, unknown> | null;
  @ApiProperty({ example: 'ops:alice' }) requestedBy!: string;
  @ApiProperty({ type: String, format: 'date-time' }) requestedAt!: Date;
  @ApiProperty({ type: String, format: 'date-time', description: 'pending: until approved; approved: until run' })
  expiresAt!: Date;
  @ApiProperty({ nullable: true, type: String }) decidedBy!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) decidedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String }) note!: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'plan_changed' }) endedReason!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) executedAt!: Date | null;
  @ApiProperty({
    type: SinceLastApprovalDto,
    nullable: true,
    description: 'the diff since the last approval given on the same wave, field by field',
  })
  sinceLastApproval!: SinceLastApprovalDto | null;
}

export class ApprovalCurrentDto {
  @ApiProperty() hash!: string;
  @ApiProperty({ description: 'false: the plan or the counts moved; approving it is refused' }) matches!: boolean;
  @ApiProperty({ type: [FieldChangeDto] }) changes!: FieldChangeDto[];
}

export class ApprovalDetailDto extends ApprovalDto {
  @ApiProperty({ type: ApprovalCurrentDto, nullable: true, description: 'an open request read again now' })
  current!: ApprovalCurrentDto | null;
}
