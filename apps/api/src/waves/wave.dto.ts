import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { APPROVAL_RULES, type ApprovalRule, PROTOCOLS, type Protocol, WAVE_STATES, type WaveState } from '@app/domain';
import { WAVE_LIMITS } from '@app/core';
import { GateDto, RampStepDto, RecloseDto, WaveSelectorDto } from './wave-settings.dto';
import { TimeWindowsDto } from './wave-windows.dto';

const finite = { allowNaN: false, allowInfinity: false } as const;
const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

/** A wave's own two-person approval rules, on top of the deployment's (docs/approvals.md). */
export class ApprovalPolicyDto {
  @ApiPropertyOptional({ enum: APPROVAL_RULES, isArray: true, description: 'commands that need a second ops key' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(APPROVAL_RULES.length)
  @IsIn(APPROVAL_RULES, { each: true })
  require?: ApprovalRule[];

  @ApiPropertyOptional({
    nullable: true,
    type: Number,
    description: 'raise_rate: the highest rate one ops key may set',
  })
  @IsOptional()
  @IsNumber(finite)
  rateBound?: number | null;
}

export class CreateWaveDto {
  @ApiProperty({ example: 'health professionals' })
  @IsString()
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string;

  @ApiProperty({ type: WaveSelectorDto })
  @ValidateNested()
  @Type(() => WaveSelectorDto)
  selector!: WaveSelectorDto;

  @ApiProperty({ enum: PROTOCOLS, isArray: true, example: ['imap', 'pop3'] })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(2)
  @ArrayUnique()
  @IsIn(PROTOCOLS, { each: true })
  protocols!: Protocol[];

  @ApiPropertyOptional({ example: '2026-05-09T08:00', description: 'local wall-clock start, with timeZone' })
  @IsOptional()
  @IsString()
  @MaxLength(32)
  startLocal?: string;

  @ApiPropertyOptional({ example: 'Europe/Paris', description: 'IANA time zone of startLocal (DST-correct)' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  timeZone?: string;

  @ApiProperty({
    example: 200,
    minimum: WAVE_LIMITS.minRate,
    maximum: WAVE_LIMITS.maxRate,
    description: 'accounts per second; changeable while the wave runs (takes effect within 2 s)',
  })
  @IsNumber(finite)
  ratePerSecond!: number;

  @ApiPropertyOptional({
    minimum: WAVE_LIMITS.minRate,
    maximum: WAVE_LIMITS.maxRate,
    description: 'accounts per second while rolling back (default: ratePerSecond)',
  })
  @IsOptional()
  @IsNumber(finite)
  rollbackRatePerSecond?: number;

  @ApiPropertyOptional({
    example: 500,
    minimum: 1,
    maximum: WAVE_LIMITS.maxBatchSize,
    description: 'accounts per batch call (default 500)',
  })
  @IsOptional()
  @IsInt()
  batchSize?: number;

  @ApiPropertyOptional({
    example: 4,
    minimum: 1,
    maximum: WAVE_LIMITS.maxConcurrency,
    description: 'batches in flight at once (default 4)',
  })
  @IsOptional()
  @IsInt()
  concurrency?: number;

  @ApiPropertyOptional({
    type: [RampStepDto],
    example: [
      { percent: 1, bakeSeconds: 1800 },
      { percent: 100, bakeSeconds: 0 },
    ],
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => RampStepDto)
  steps?: RampStepDto[];

  @ApiPropertyOptional({ type: [GateDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @ValidateNested({ each: true })
  @Type(() => GateDto)
  gates?: GateDto[];

  @ApiPropertyOptional({ type: RecloseDto, nullable: true, description: 'null on an update: no reaction any more' })
  @IsOptional()
  @ValidateNested()
  @Type(() => RecloseDto)
  reclose?: RecloseDto | null;

  @ApiPropertyOptional({
    type: TimeWindowsDto,
    nullable: true,
    description:
      'when the wave may send (docs/windows.md): outside, it pauses (outside_window) and resumes by itself; ' +
      'changeable at any time; null: any time',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => TimeWindowsDto)
  windows?: TimeWindowsDto | null;

  @ApiPropertyOptional({
    type: ApprovalPolicyDto,
    nullable: true,
    description: "this wave's approval rules on top of the deployment's; an update may only tighten them",
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => ApprovalPolicyDto)
  approvalPolicy?: ApprovalPolicyDto | null;
}

/** Rate, batch size, concurrency and gates change at any time (pumps re-read them before every batch). */
export class UpdateWaveDto extends PartialType(OmitType(CreateWaveDto, ['selector', 'protocols'] as const)) {}

export class WaveListQueryDto {
  @ApiPropertyOptional({ enum: WAVE_STATES })
  @IsOptional()
  @IsIn(WAVE_STATES)
  state?: WaveState;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  cursor?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  limit?: number;
}

export class CommandResultDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ enum: WAVE_STATES, description: 'state before the command' })
  from!: WaveState;

  @ApiProperty({ enum: WAVE_STATES, description: 'state after the command' })
  state!: WaveState;

  @ApiProperty({ description: 'true when the command changed nothing (e.g. a second rollback)' })
  noop!: boolean;
}
