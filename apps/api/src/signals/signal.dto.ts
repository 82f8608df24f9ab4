import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsNumber, IsOptional, IsString, MaxLength } from 'class-validator';

/** One sample pushed by the security team; gates of metric `signal` read the latest one. */
export class CreateSignalDto {
  @ApiProperty({ example: 'failed_logins_per_minute' })
  @IsString()
  @MaxLength(64)
  name!: string;

  @ApiProperty({ example: 42 })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  value!: number;

  @ApiProperty({ example: 60, description: 'the window the value was measured over, 1–86400 s' })
  @IsInt()
  windowSeconds!: number;

  @ApiProperty({ example: '2026-05-09T08:05:00Z', description: 'ISO 8601 instant with an offset (end of the window)' })
  @IsString()
  @MaxLength(40)
  observedAt!: string;

  @ApiPropertyOptional({ example: 'health', description: 'the cohort the value is about; absent: everyone' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  cohort?: string;
}

export class SignalDto {
  @ApiProperty() id!: number;
  @ApiProperty() name!: string;
  @ApiProperty() value!: number;
  @ApiProperty() windowSeconds!: number;
  @ApiProperty({ type: String, format: 'date-time' }) observedAt!: Date;
  @ApiProperty({ nullable: true, type: String }) cohort!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) receivedAt!: Date;
  @ApiProperty({ nullable: true, type: String, description: 'the pushing key, e.g. signals:siem' })
  source!: string | null;
}
