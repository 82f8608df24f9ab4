import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsBoolean,
  IsIn,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
} from 'class-validator';
import { PROTOCOLS, type Protocol, SKIP_REASONS } from '@app/domain';
import { AuditEntryDto } from '../audit/audit.dto';
import { OperationDto } from '../operations/operation.dto';

/** Why and under which ticket: required for every support action, recorded in the audit log. */
export class HoldDto {
  @ApiProperty({ example: 'customer asked to keep POP closed' })
  @IsString()
  @MaxLength(500)
  reason!: string;

  @ApiProperty({ example: 'SUP-1234' })
  @IsString()
  @MaxLength(100)
  ticket!: string;
}

export class SupportChangeDto extends HoldDto {
  @ApiPropertyOptional({ enum: PROTOCOLS, isArray: true, description: 'default: both' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(2)
  @ArrayUnique()
  @IsIn(PROTOCOLS, { each: true })
  protocols?: Protocol[];
}

export class SupportEnableDto extends SupportChangeDto {
  @ApiPropertyOptional({
    default: false,
    description:
      'open the account even though waves hold it back (support hold, or leaked password never reset): required ' +
      'for such an account (409 override_required otherwise). Over a leaked, never-reset password the override ' +
      'is recorded on the account (waves include it too) until it expires (SUPPORT_OVERRIDE_TTL_S), ops revoke ' +
      'it (DELETE /overrides/{login}), or support disables or holds the account; a hold is not lifted.',
  })
  @IsOptional()
  @IsBoolean()
  override?: boolean;
}

export class RollbackAccountDto extends HoldDto {
  @ApiPropertyOptional({ format: 'uuid', description: 'the wave whose change to undo (default: the latest one)' })
  @IsOptional()
  @IsUUID('all', { message: 'waveId must be a UUID' })
  waveId?: string;
}

export class AccessStateDto {
  @ApiProperty() imap!: boolean;
  @ApiProperty() pop3!: boolean;
  @ApiProperty({ nullable: true, type: Number }) mailstoreVersion!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'null: never observed' })
  observedAt!: Date | null;
}

export class AnnotationDto {
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: String }) ticket!: string | null;
  @ApiProperty({ nullable: true, type: String }) by!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) at!: Date | null;
}

export class LiveOverrideDto extends AnnotationDto {
  @ApiProperty({ type: String, format: 'date-time' }) expiresAt!: Date;
}

export class EligibilityDto {
  @ApiProperty({ description: 'would the next wave batch open it (both protocols requested)?' }) eligible!: boolean;
  @ApiProperty({ enum: SKIP_REASONS, nullable: true }) reason!: string | null;
}

export class AccountWaveDto {
  @ApiProperty({ format: 'uuid' }) waveId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() waveState!: string;
  @ApiProperty({ description: 'pending, in_flight, enabled, skipped, failed, cancelled' }) memberState!: string;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: String }) rollbackState!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) doneAt!: Date | null;
}

/** One account for support: state, eligibility with its reason, waves, operations and history. */
export class AccountDto {
  @ApiProperty() login!: string;
  @ApiProperty({ type: [String] }) cohorts!: string[];
  @ApiProperty() leaked!: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) passwordChangedAt!: Date | null;
  @ApiProperty({ type: AccessStateDto }) access!: AccessStateDto;
  @ApiProperty() held!: boolean;
  @ApiProperty({ type: AnnotationDto, nullable: true }) hold!: AnnotationDto | null;
  @ApiProperty({
    type: () => LiveOverrideDto,
    nullable: true,
    description: 'the live support override of password_reset_required (null when none, or expired)',
  })
  override!: LiveOverrideDto | null;
  @ApiProperty({ type: EligibilityDto }) eligibility!: EligibilityDto;
  @ApiProperty({ type: [AccountWaveDto] }) waves!: AccountWaveDto[];
  @ApiProperty({ type: [OperationDto], description: 'the 20 most recent' }) operations!: OperationDto[];
  @ApiProperty({ type: [AuditEntryDto], description: 'the 50 most recent audit entries' }) history!: AuditEntryDto[];
  @ApiProperty() version!: number;
}
