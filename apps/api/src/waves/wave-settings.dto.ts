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

  @ApiPropertyOptional({
    type: [String],
    example: ['health'],
    description:
      'type cohorts: 1–50 cohort names, each one that an imported account is in (otherwise 400, naming it and the ' +
      "population's cohorts: a misspelt cohort would select nobody)",
  })
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

/**
 * What stops a wave: provider error rate or latency over a window, failed logins on the accounts it opened (the mail
 * server's own events), a pushed signal, or a Prometheus query; and what it then does.
 */
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

  @ApiPropertyOptional({
    description: 'metric signal: the cohort the signal is about; login metrics: only the accounts of this cohort',
  })
  @IsOptional()
  @IsString()
  cohort?: string;

  @ApiPropertyOptional({
    example: 300,
    description: 'every metric but prometheus (required there); login metrics: ×10 s',
  })
  @ValidateIf((g: GateDto) => g.metric !== 'prometheus' || g.windowSeconds !== undefined)
  @IsInt()
  windowSeconds!: number;

  @ApiPropertyOptional({
    example: 20,
    description: 'mailstore metrics: fewer calls in the window is insufficient data; login metrics: fewer logins',
  })
  @ValidateIf((g: GateDto) => g.metric !== 'prometheus' || g.minSamples !== undefined)
  @IsInt()
  minSamples!: number;

  @ApiPropertyOptional({
    example: 0.05,
    description:
      'every metric but prometheus; breach strictly above: error rate or failure ratio as a fraction, latency in ms, ' +
      'failed logins per minute',
  })
  @ValidateIf((g: GateDto) => g.metric !== 'prometheus' || g.threshold !== undefined)
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

  @ApiPropertyOptional({
    example: 300,
    description:
      'login metrics: no login event naming a known account for this long (default 300 s) makes the gate inconclusive',
  })
  @IsOptional()
  @IsInt()
  silenceSeconds?: number;

  @ApiPropertyOptional({
    example: 'sum(rate(dovecot_auth_failures_total[1m]))',
    description: 'prometheus: a PromQL query giving one number (a scalar or a one-sample vector)',
  })
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  query?: string;

  @ApiPropertyOptional({ example: 10, description: 'prometheus: seconds between measurements' })
  @IsOptional()
  @IsInt()
  intervalSeconds?: number;

  @ApiPropertyOptional({ example: 'result < 5', description: "prometheus: Argo's successCondition over result" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  successCondition?: string;

  @ApiPropertyOptional({ example: 'result > 20', description: "prometheus: Argo's failureCondition over result" })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  failureCondition?: string;

  @ApiPropertyOptional({ example: 0, description: 'prometheus: failed measurements tolerated (default 0)' })
  @IsOptional()
  @IsInt()
  failureLimit?: number;

  @ApiPropertyOptional({ example: 0, description: 'prometheus: inconclusive measurements tolerated (default 0)' })
  @IsOptional()
  @IsInt()
  inconclusiveLimit?: number;

  @ApiPropertyOptional({ example: 4, description: 'prometheus: query errors in a row tolerated (default 4)' })
  @IsOptional()
  @IsInt()
  consecutiveErrorLimit?: number;

  @ApiProperty({ enum: GATE_ACTIONS })
  @IsIn(GATE_ACTIONS)
  action!: GateAction;
}

/**
 * The per-account reaction to credential stuffing: an account this wave opened that then sees `failures` failed logins
 * from at least `distinctIps` addresses within `windowSeconds` is closed again at once (both protocols, through the
 * support lane, reason suspected_credential_stuffing), whatever the gates say. Needs the mail server's login events.
 */
export class RecloseDto {
  @ApiProperty({ example: 5 })
  @IsInt()
  failures!: number;

  @ApiProperty({ example: 3 })
  @IsInt()
  distinctIps!: number;

  @ApiProperty({ example: 300, description: 'a multiple of 10' })
  @IsInt()
  windowSeconds!: number;
}
