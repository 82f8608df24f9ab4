import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { GATE_ACTIONS, GATE_METRICS, type GateAction, type GateMetric } from '@app/domain';

const finite = { allowNaN: false, allowInfinity: false } as const;

/** Who a wave opens: cohort tags, an explicit list of logins, or every account not yet open ("remaining"). */
export class WaveSelectorDto {
  @ApiProperty({ enum: ['cohorts', 'logins', 'remaining'] })
  @IsIn(['cohorts', 'logins', 'remaining'])
  type!: 'cohorts' | 'logins' | 'remaining';

  @ApiPropertyOptional({ type: [String], example: ['health'], description: 'type cohorts: 1–50 cohort names' })
  @ValidateIf((s: WaveSelectorDto) => s.type === 'cohorts' || s.cohorts !== undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(50)
  @IsString({ each: true })
  cohorts?: string[];

  @ApiPropertyOptional({ type: [String], description: 'type logins: 1–100,000 logins' })
  @ValidateIf((s: WaveSelectorDto) => s.type === 'logins' || s.logins !== undefined)
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  logins?: string[];
}

/** A ramp step: cumulative percent of the membership, then a bake before the next step (0 on the last). */
export class RampStepDto {
  @ApiProperty({ example: 10, description: 'cumulative share, 0 < percent ≤ 100, at most two decimals' })
  @IsNumber(finite)
  percent!: number;

  @ApiProperty({ example: 1800, description: 'pause after this step; 0 on the last step' })
  @IsInt()
  bakeSeconds!: number;
}

export class RelativeToDto {
  @ApiProperty({ example: 'general' })
  @IsString()
  cohort!: string;

  @ApiProperty({ example: 3 })
  @IsNumber(finite)
  factor!: number;
}

/** What stops a wave: provider error rate or latency over a window, or a pushed signal; and what it then does. */
export class GateDto {
  @ApiProperty({ example: 'provider-errors' })
  @IsString()
  @MaxLength(64)
  name!: string;

  @ApiProperty({ enum: GATE_METRICS })
  @IsIn(GATE_METRICS)
  metric!: GateMetric;

  @ApiPropertyOptional({ description: 'metric signal: the signal name pushed to POST /signals' })
  @IsOptional()
  @IsString()
  signal?: string;

  @ApiPropertyOptional({ description: 'metric signal: the cohort the signal is about' })
  @IsOptional()
  @IsString()
  cohort?: string;

  @ApiProperty({ example: 300 })
  @IsInt()
  windowSeconds!: number;

  @ApiProperty({ example: 20, description: 'built-in metrics: fewer calls in the window is insufficient data' })
  @IsInt()
  minSamples!: number;

  @ApiProperty({ example: 0.05, description: 'breach strictly above: error rate as a fraction, latency in ms' })
  @IsNumber(finite)
  threshold!: number;

  @ApiPropertyOptional({ enum: ['above'] })
  @IsOptional()
  @IsIn(['above'])
  comparison?: 'above';

  @ApiPropertyOptional({ type: RelativeToDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RelativeToDto)
  relativeTo?: RelativeToDto;

  @ApiPropertyOptional({ description: 'metric signal: how long past its window a sample stays usable' })
  @IsOptional()
  @IsInt()
  graceSeconds?: number;

  @ApiProperty({ enum: GATE_ACTIONS })
  @IsIn(GATE_ACTIONS)
  action!: GateAction;
}
