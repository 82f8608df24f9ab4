import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { GATE_ACTIONS, GATE_METRICS, SLOW_REASONS, WAVE_STATES, type SlowReason, type WaveState } from '@app/domain';

export class MemberCountsDto {
  @ApiProperty() pending!: number;
  @ApiProperty() in_flight!: number;
  @ApiProperty({
    description: 'in a batch kept for its retry (its wave stopped after an attempt): resent at once on resume',
  })
  awaiting_retry!: number;
  @ApiProperty() enabled!: number;
  @ApiProperty() skipped!: number;
  @ApiProperty() failed!: number;
  @ApiProperty() cancelled!: number;
}

export class RollbackCountsDto {
  @ApiProperty() pending!: number;
  @ApiProperty() in_flight!: number;
  @ApiProperty({ description: 'in a batch kept for its retry: resent at once on resume' }) awaiting_retry!: number;
  @ApiProperty() rolled_back!: number;
  @ApiProperty() unchanged!: number;
  @ApiProperty({ description: 'changed since the wave (e.g. by support): left alone' }) conflict!: number;
  @ApiProperty() failed!: number;
}

export class RollbackProgressDto {
  @ApiProperty() total!: number;
  @ApiProperty({ type: RollbackCountsDto }) counts!: RollbackCountsDto;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } }) failureReasons!: Record<string, number>;
  @ApiProperty() done!: number;
  @ApiProperty() doneFraction!: number;
}

export class RateDto {
  @ApiProperty({ description: 'accounts sent per second over the last minute (or since the start)' })
  observedPerSecond!: number;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: 'the rate now: the observed rate while the wave sends (running, rolling back), null when it does not',
  })
  currentPerSecond!: number | null;
  @ApiProperty({ description: 'the rate set by ops (the rollback rate while rolling back)' }) targetPerSecond!: number;
  @ApiProperty({
    description:
      'seconds the observed rate is measured over (≤ 60): up to now, or for a finished wave up to its end (its figures then stay as they were)',
  })
  windowSeconds!: number;
}

/** Why a wave sends below its set rate: the engine's shared pace and the mailstore's advertised limit. */
export class PaceDto {
  @ApiProperty({
    nullable: true,
    type: Number,
    description:
      "share of the set rates the shared pace allows after the mailstore's 429/503s (1: full); null: unreadable",
  })
  factor!: number | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: "seconds every sender still waits for the mailstore's Retry-After (0: none); null: unreadable",
  })
  retryAfterSeconds!: number | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: "the mailstore's advertised account updates per second (its capabilities); null until read",
  })
  mailstoreRatePerSecond!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) capabilitiesReadAt!: Date | null;
  @ApiProperty({
    nullable: true,
    type: Number,
    description: "the most the engine can send for this wave now: min(set rate, mailstore's rate) × factor",
  })
  ceilingPerSecond!: number | null;
  @ApiProperty({
    enum: SLOW_REASONS,
    isArray: true,
    description: 'what holds the wave below its set rate, most pressing first; empty when nothing does',
  })
  slowReasons!: SlowReason[];
}

export class StepDto {
  @ApiProperty({ description: '0-based index of the current ramp step' }) index!: number;
  @ApiProperty() count!: number;
  @ApiProperty({ description: 'cumulative percent the current step reaches' }) percent!: number;
  @ApiProperty({ nullable: true, type: Number }) memberLimit!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) bakeUntil!: Date | null;
  @ApiProperty({ nullable: true, type: Number }) bakeSecondsLeft!: number | null;
}

export class GateViewDto {
  @ApiProperty() name!: string;
  @ApiProperty({ enum: GATE_METRICS }) metric!: string;
  @ApiProperty({ enum: GATE_ACTIONS }) action!: string;
  @ApiProperty({
    enum: ['fraction', 'ms', 'per_minute', 'number'],
    description: 'what value and threshold are in: fraction (0.05 = 5 %), ms, per_minute, number (own unit)',
  })
  unit!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'null for a prometheus gate (its conditions decide)' })
  threshold!: number | null;
  @ApiPropertyOptional({
    description: "breached only above factor × the control cohort's value (signals and login metrics)",
    type: 'object',
    properties: { cohort: { type: 'string' }, factor: { type: 'number' } },
  })
  relativeTo?: { cohort: string; factor: number };
  @ApiProperty({ nullable: true, type: Number, description: 'null for a prometheus gate' })
  windowSeconds!: number | null;
  @ApiPropertyOptional({ description: 'prometheus gates: the PromQL query' }) query?: string;
  @ApiPropertyOptional({ description: 'prometheus gates: seconds between measurements' }) intervalSeconds?: number;
  @ApiPropertyOptional({ example: 'result < 0.05' }) successCondition?: string;
  @ApiPropertyOptional({ example: 'result >= 0.05' }) failureCondition?: string;
  @ApiProperty({ enum: ['ok', 'breached', 'insufficient_data', 'inconclusive', 'not_evaluated'] }) status!: string;
  @ApiProperty({ nullable: true, type: Number }) value!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'relative signal and login gates: the control value' })
  control!: number | null;
  @ApiProperty() reason!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'when the evaluator decided it' })
  evaluatedAt!: Date | null;
}

/** Progress of one wave, from its incremental counters. */
export class WaveProgressDto {
  @ApiProperty({ format: 'uuid' }) waveId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: WAVE_STATES }) state!: WaveState;
  @ApiProperty({ nullable: true, type: String, example: 'ramp_bake' }) statusReason!: string | null;
  @ApiProperty({ example: 'paused: gate provider-errors breached (error rate 0.08 over 120 calls is above 0.05)' })
  statusText!: string;
  @ApiProperty({ nullable: true, type: Object }) statusDetail!: Record<string, unknown> | null;
  @ApiProperty({ type: [String] }) protocols!: string[];
  @ApiProperty() total!: number;
  @ApiProperty({ type: MemberCountsDto }) counts!: MemberCountsDto;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { password_reset_required: 12 } })
  skipReasons!: Record<string, number>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' } }) failureReasons!: Record<string, number>;
  @ApiProperty() done!: number;
  @ApiProperty() doneFraction!: number;
  @ApiProperty({ type: RollbackProgressDto, nullable: true }) rollback!: RollbackProgressDto | null;
  @ApiProperty({ type: RateDto }) rate!: RateDto;
  @ApiProperty({ type: PaceDto }) pace!: PaceDto;
  @ApiProperty({
    nullable: true,
    type: Number,
    description:
      'null while the wave is not moving; with time windows, sending counts inside them only, and a wave waiting ' +
      'for its window (outside_window) has one',
  })
  etaSeconds!: number | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'when it should be done; null unless the wave is sending',
  })
  etaAt!: Date | null;
  @ApiProperty({ type: StepDto }) step!: StepDto;
  @ApiProperty({ type: [GateViewDto] }) gates!: GateViewDto[];
  @ApiProperty({ description: 'accounts this wave opened that were closed again after a credential-stuffing burst' })
  reclosed!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) completedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) rollbackStartedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) rollbackCompletedAt!: Date | null;
  @ApiProperty() version!: number;
  @ApiProperty({ type: String, format: 'date-time' }) asOf!: Date;
}

export class ProgressTotalsDto {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, example: { running: 1, completed: 2 } })
  waves!: Record<string, number>;
  @ApiProperty({ type: MemberCountsDto }) members!: MemberCountsDto;
}

/** Every active wave, and those finished in the last 24 h. */
export class ProgressOverviewDto {
  @ApiProperty({ type: String, format: 'date-time' }) asOf!: Date;
  @ApiProperty({ type: [WaveProgressDto] }) waves!: WaveProgressDto[];
  @ApiProperty({ type: ProgressTotalsDto }) totals!: ProgressTotalsDto;
}

/** One gate as it would decide now (GET /waves/{id}/gate-check). */
export class GateCheckDto {
  @ApiProperty() gate!: string;
  @ApiProperty({ enum: ['pause', 'halt', 'halt_and_rollback'] }) action!: string;
  @ApiProperty({
    enum: ['ok', 'breached', 'insufficient_data', 'inconclusive'],
    description:
      'inconclusive: its input is missing (a stale signal, a silent login stream): the wave would pause as soon as it ' +
      'runs; for a prometheus gate, its query tried once now failed or gave no number; insufficient_data: too few ' +
      'samples yet (never a pause)',
  })
  status!: string;
  @ApiPropertyOptional() value?: number;
  @ApiProperty() threshold!: number;
  @ApiPropertyOptional({ description: 'the control cohort, for a relative gate' }) control?: number;
  @ApiProperty({ example: 'signal failed_logins_per_minute for general last received 3600 s ago (stale after 120 s)' })
  reason!: string;
}

export class GateCheckAnswerDto {
  @ApiProperty({ format: 'uuid' }) waveId!: string;
  @ApiProperty({ type: String, format: 'date-time' }) checkedAt!: Date;
  @ApiProperty({ type: [GateCheckDto] }) gates!: GateCheckDto[];
}

/** One measurement of a prometheus gate. */
export class GateMeasurementDto {
  @ApiProperty() gate!: string;
  @ApiProperty({ enum: ['successful', 'failed', 'inconclusive', 'error'] }) phase!: string;
  @ApiProperty({ nullable: true, type: Number, description: 'the query result (null: none, e.g. an error)' })
  value!: number | null;
  @ApiProperty({ example: 'result > 10 (14.2)' }) reason!: string;
  @ApiProperty({ type: String, format: 'date-time' }) takenAt!: Date;
}

export class RateSampleDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'start of the bucket' }) at!: Date;
  @ApiProperty({ description: 'accounts sent per second in the bucket, forward' }) forwardPerSecond!: number;
  @ApiProperty({ description: 'accounts restored per second in the bucket, rollback' }) rollbackPerSecond!: number;
}

/** A wave's rate over its whole run (at most 120 samples), from its per-batch rows. */
export class RateHistoryDto {
  @ApiProperty({ format: 'uuid' }) waveId!: string;
  @ApiProperty({ description: 'width of each sample (5 s up to a day, growing with the wave)' }) bucketSeconds!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'first start (null: never)' })
  from!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'now, or the end of a finished wave' })
  to!: Date | null;
  @ApiProperty({ type: [RateSampleDto] }) samples!: RateSampleDto[];
  @ApiProperty({ type: String, format: 'date-time' }) asOf!: Date;
}

export class GateMeasurementQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value,
  )
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}
