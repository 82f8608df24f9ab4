import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsDate, IsIn, IsInt, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/i;
const toDate = ({ value }: { value: unknown }) =>
  typeof value === 'string' && ISO.test(value) ? new Date(value) : value;

export class AuditQueryDto {
  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID()
  waveId?: string;

  @ApiPropertyOptional({ example: 'user5@example.test' })
  @IsOptional()
  @IsString()
  @MaxLength(254)
  login?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'inclusive' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'from must be an ISO 8601 date or instant' })
  from?: Date;

  @ApiPropertyOptional({ format: 'date-time', description: 'exclusive' })
  @IsOptional()
  @Transform(toDate)
  @IsDate({ message: 'to must be an ISO 8601 date or instant' })
  to?: Date;

  @ApiPropertyOptional({ example: 'support.*', description: 'exact action, or a family with a trailing *' })
  @IsOptional()
  @IsString()
  @MaxLength(65)
  action?: string;

  @ApiPropertyOptional({
    enum: ['all', 'commands', 'waves'],
    default: 'all',
    description:
      'commands: every entry but the per-member ledger rows (member.*); waves: of those, the entries about a wave ' +
      '(commands, gate pauses and halts, approvals)',
  })
  @IsOptional()
  @IsIn(['all', 'commands', 'waves'], { message: "kind must be 'all', 'commands' or 'waves'" })
  kind?: 'all' | 'commands' | 'waves';

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  limit?: number;
}

export class AuditEntryDto {
  @ApiProperty({ description: 'increasing; a string (bigint)' }) id!: string;
  @ApiProperty({ type: String, format: 'date-time' }) at!: Date;
  @ApiProperty({ example: 'ops:alice' }) actor!: string;
  @ApiProperty({ example: 'wave.start' }) action!: string;
  @ApiProperty({ nullable: true, type: String }) waveId!: string | null;
  @ApiProperty({ nullable: true, type: String }) accountId!: string | null;
  @ApiProperty({ nullable: true, type: String }) login!: string | null;
  @ApiProperty({ nullable: true, type: String }) operationId!: string | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: String }) ticket!: string | null;
  @ApiProperty({ nullable: true, type: Object }) before!: unknown;
  @ApiProperty({ nullable: true, type: Object }) after!: unknown;
  @ApiProperty({ nullable: true, type: Object }) detail!: unknown;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) items!: AuditEntryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'pass as cursor for older entries' })
  nextCursor!: string | null;
}
