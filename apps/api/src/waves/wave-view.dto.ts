import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { hideAddresses, selectorView, WAVE_STATES, type WaveState } from '@app/domain';
import type { WaveEntity } from '@app/db';
import type { WavePage } from '@app/core';
import { GateDto, RampStepDto, RecloseDto } from './wave-settings.dto';
import { TimeWindowsDto } from './wave-windows.dto';

/** Who a wave opens, as readers see it: an explicit list shows its count to every reader, its logins to some. */
export class WaveSelectorViewDto {
  @ApiProperty({ enum: ['cohorts', 'logins', 'remaining'] }) type!: 'cohorts' | 'logins' | 'remaining';
  @ApiPropertyOptional({ type: [String], example: ['health'] }) cohorts?: string[];
  @ApiPropertyOptional({
    type: [String],
    description: 'type logins: the list, for ops and support only (viewers get loginCount alone)',
  })
  logins?: string[];
  @ApiPropertyOptional({ description: 'type logins: how many logins the list names (every reader)', example: 2 })
  loginCount?: number;
}

/**
 * A wave as the API shows it (the entity minus engine internals such as the run generation). Readers who may not
 * see e-mail addresses (viewers) get an explicit list's count instead of the list, and any address in the rest
 * (status detail, name, description) replaced by "[address hidden]".
 */
export class WaveDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ nullable: true, type: String }) description!: string | null;
  @ApiProperty({ type: WaveSelectorViewDto }) selector!: WaveSelectorViewDto;
  @ApiProperty({ type: [String], example: ['imap', 'pop3'] }) protocols!: string[];
  @ApiProperty({ enum: WAVE_STATES }) state!: WaveState;
  @ApiProperty({ nullable: true, type: String, example: 'gate:provider-errors' }) statusReason!: string | null;
  @ApiProperty({ nullable: true, type: Object }) statusDetail!: Record<string, unknown> | null;
  @ApiProperty({ nullable: true, type: String }) startLocal!: string | null;
  @ApiProperty({ nullable: true, type: String }) timeZone!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startAt!: Date | null;
  @ApiProperty() ratePerSecond!: number;
  @ApiProperty() rollbackRatePerSecond!: number;
  @ApiProperty() batchSize!: number;
  @ApiProperty() concurrency!: number;
  @ApiProperty({ type: [RampStepDto] }) steps!: RampStepDto[];
  @ApiProperty({ type: [GateDto] }) gates!: GateDto[];
  @ApiProperty({ type: RecloseDto, nullable: true }) reclose!: RecloseDto | null;
  @ApiProperty({
    type: TimeWindowsDto,
    nullable: true,
    description: 'when it may send (docs/windows.md); null: any time',
  })
  windows!: TimeWindowsDto | null;
  @ApiProperty({ type: Object, nullable: true, description: "the wave's own approval rules ({require, rateBound})" })
  approvalPolicy!: { require: string[]; rateBound: number | null } | null;
  @ApiProperty({ description: '0-based index of the ramp step' }) currentStep!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'frozen membership size (null before start)' })
  memberCount!: number | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) scheduleFiredAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) completedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) rollbackStartedAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) rollbackCompletedAt!: Date | null;
  @ApiProperty() createdBy!: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: String, format: 'date-time' }) updatedAt!: Date;
  @ApiProperty({ description: 'moves on every change' }) version!: number;

  static from(w: WaveEntity, showAddresses: boolean): WaveDto {
    const dto: WaveDto = {
      id: w.id,
      name: w.name,
      description: w.description,
      selector: selectorView(w.selector, showAddresses) as WaveSelectorViewDto,
      protocols: w.protocols,
      state: w.state,
      statusReason: w.statusReason,
      statusDetail: w.statusDetail,
      startLocal: w.startLocal,
      timeZone: w.timeZone,
      startAt: w.startAt,
      ratePerSecond: w.ratePerSecond,
      rollbackRatePerSecond: w.rollbackRatePerSecond,
      batchSize: w.batchSize,
      concurrency: w.concurrency,
      steps: w.steps,
      gates: w.gates as unknown as GateDto[],
      reclose: w.reclose,
      windows: w.windows,
      approvalPolicy: w.approvalPolicy,
      currentStep: w.currentStep,
      memberCount: w.memberCount,
      scheduleFiredAt: w.scheduleFiredAt,
      startedAt: w.startedAt,
      completedAt: w.completedAt,
      rollbackStartedAt: w.rollbackStartedAt,
      rollbackCompletedAt: w.rollbackCompletedAt,
      createdBy: w.createdBy,
      createdAt: w.createdAt,
      updatedAt: w.updatedAt,
      version: w.version,
    };
    return showAddresses ? dto : hideAddresses(dto);
  }
}

export class WavePageDto {
  @ApiProperty({ type: [WaveDto] }) items!: WaveDto[];
  @ApiPropertyOptional({ nullable: true, type: String, description: 'pass as cursor for the next page' })
  nextCursor!: string | null;

  static from(page: WavePage, showAddresses: boolean): WavePageDto {
    return { items: page.items.map((w) => WaveDto.from(w, showAddresses)), nextCursor: page.nextCursor };
  }
}

export class SkipCountsDto {
  @ApiProperty() held!: number;
  @ApiProperty() password_reset_required!: number;
  @ApiProperty({ description: 'always 0 in a preview: only the mailstore can say' }) not_found!: number;
  @ApiProperty() already_enabled!: number;
}

export class ProjectedDurationDto {
  @ApiProperty() totalSeconds!: number;
  @ApiProperty() sendingSeconds!: number;
  @ApiProperty() bakeSeconds!: number;
}

/** The projection through the wave's time windows: sending inside them only, bakes in wall time. */
export class WindowedProjectionDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'the wave’s start time, or now when passed or none' })
  from!: Date;
  @ApiProperty({ type: String, format: 'date-time', nullable: true, description: 'null: the windows never open' })
  projectedEndAt!: Date | null;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'from `from` to projectedEndAt, closed stretches included',
  })
  totalSeconds!: number | null;
}

export class PreviewStepDto extends RampStepDto {
  @ApiProperty({ description: 'cumulative member count at the end of the step' }) memberLimit!: number;
}

export class PreviewMailstoreDto {
  @ApiProperty({
    description: 'most accounts the mailstore takes in one batch: min(maxBatchItems, accountUpdateBurst)',
  })
  batchSizeLimit!: number;
  @ApiProperty({ description: 'account updates per second it advertises' }) accountUpdatesPerSecond!: number;
  @ApiProperty({ type: String, format: 'date-time', description: 'when a worker last read its capabilities' })
  readAt!: Date;
}

/** The dry run: computed in SQL over the accounts, without calling the mailstore and without writing. */
export class WavePreviewDto {
  @ApiProperty({ format: 'uuid' }) waveId!: string;
  @ApiProperty({ enum: ['selector', 'pending_members'] }) scope!: 'selector' | 'pending_members';
  @ApiProperty({ type: [String] }) protocols!: string[];
  @ApiProperty({ description: 'accounts in scope' }) members!: number;
  @ApiProperty({ description: 'accounts a start now would open' }) eligible!: number;
  @ApiProperty({ type: SkipCountsDto }) skips!: SkipCountsDto;
  @ApiProperty({
    description: "accounts per batch call, as the engine sends them at the set rate and the mailstore's limits",
  })
  batchSize!: number;
  @ApiProperty({ description: 'batch calls the engine will make (batches never cross a ramp step)' }) batches!: number;
  @ApiProperty() ratePerSecond!: number;
  @ApiProperty({
    type: PreviewMailstoreDto,
    nullable: true,
    description: "the mailstore's limits as a worker last read them (null before any did: batches sized as if 500)",
  })
  mailstore!: PreviewMailstoreDto | null;
  @ApiProperty({ type: ProjectedDurationDto }) projectedDuration!: ProjectedDurationDto;
  @ApiProperty({
    type: WindowedProjectionDto,
    nullable: true,
    description: 'with time windows: when the wave would end, closed stretches included (null without windows)',
  })
  windowed!: WindowedProjectionDto | null;
  @ApiProperty({ type: [PreviewStepDto] }) steps!: PreviewStepDto[];
  @ApiProperty({ type: String, format: 'date-time' }) incidentAt!: Date;
}
