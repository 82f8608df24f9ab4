import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, MaxLength } from 'class-validator';
import { OVERRIDE_PAGE } from '@app/core';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class OverrideQueryDto {
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(400)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: OVERRIDE_PAGE.max, default: OVERRIDE_PAGE.default })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  limit?: number;
}

/** A live support override of password_reset_required: waves include the account until it expires or ends. */
export class OverrideDto {
  @ApiProperty({ example: 'user5@example.test' }) login!: string;
  @ApiProperty() reason!: string;
  @ApiProperty() ticket!: string;
  @ApiProperty({ nullable: true, type: String, example: 'support:bob' }) by!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) at!: Date | null;
  @ApiProperty({ type: String, format: 'date-time' }) expiresAt!: Date;
}

export class OverridePageDto {
  @ApiProperty({ type: [OverrideDto], description: 'the soonest to expire first' }) items!: OverrideDto[];
  @ApiProperty({ nullable: true, type: String, description: 'pass as cursor for the next page' })
  nextCursor!: string | null;
}
