import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, MaxLength, ValidateNested } from 'class-validator';
import { WEEKDAYS, type Weekday, WINDOW_LIMITS } from '@app/domain';

/*
 * A wave's time windows (docs/windows.md). These DTOs check the shape; libs/domain's validateTimeWindows checks the
 * rest (zones, times, end after start, overlaps) and names each field, e.g. `windows.allowed[0].end`.
 */

export class AllowedWindowDto {
  @ApiProperty({ enum: WEEKDAYS, isArray: true, example: ['mon', 'tue', 'wed', 'thu', 'fri'] })
  @IsArray()
  @ArrayMaxSize(7)
  @IsIn(WEEKDAYS, { each: true })
  days!: Weekday[];

  @ApiProperty({ example: '08:00', description: 'local wall time HH:mm in the windows’ zone' })
  @IsString()
  @MaxLength(5)
  start!: string;

  @ApiProperty({
    example: '20:00',
    description: 'local wall time HH:mm, or 24:00; earlier than start: the range ends the next day',
  })
  @IsString()
  @MaxLength(5)
  end!: string;
}

export class BlackoutDto {
  @ApiProperty({ example: '2026-05-14T00:00', description: 'local date-time YYYY-MM-DDTHH:mm[:ss]' })
  @IsString()
  @MaxLength(32)
  start!: string;

  @ApiProperty({ example: '2026-05-15T00:00', description: 'local date-time, after start' })
  @IsString()
  @MaxLength(32)
  end!: string;

  @ApiPropertyOptional({ example: 'Europe/Paris', description: 'IANA zone of start and end (default: the windows’)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  timeZone?: string;

  @ApiPropertyOptional({ example: 'Ascension Day: support closed', maxLength: WINDOW_LIMITS.maxReason })
  @IsOptional()
  @IsString()
  @MaxLength(WINDOW_LIMITS.maxReason)
  reason?: string;
}

export class TimeWindowsDto {
  @ApiProperty({ example: 'Europe/Paris', description: 'IANA zone of the allowed ranges (DST-correct)' })
  @IsString()
  @MaxLength(64)
  timeZone!: string;

  @ApiPropertyOptional({
    type: [AllowedWindowDto],
    description: 'weekly ranges when the wave may send; none: any time outside the blackouts',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WINDOW_LIMITS.maxAllowed)
  @ValidateNested({ each: true })
  @Type(() => AllowedWindowDto)
  allowed?: AllowedWindowDto[];

  @ApiPropertyOptional({ type: [BlackoutDto], description: 'periods when the wave never sends' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(WINDOW_LIMITS.maxBlackouts)
  @ValidateNested({ each: true })
  @Type(() => BlackoutDto)
  blackouts?: BlackoutDto[];
}
