import { applyDecorators, Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags } from '@nestjs/swagger';
import { GateEvaluator, NotFoundError, ProgressService } from '@app/core';
import { hideAddresses } from '@app/domain';
import type { Request, Response } from 'express';
import { Access, ROLES } from '../auth/access.decorator';
import { SeesAddresses } from '../auth/principal';
import { ApiProblem } from '../common/problem.dto';
import { UuidParamPipe } from '../common/param.pipes';
import { ConditionalGet, ConditionalReply } from './conditional-get';
import { ProgressCache, readerView } from './progress-cache.service';
import { ProgressEventsService } from './progress-events.service';
import {
  GateCheckAnswerDto,
  GateMeasurementDto,
  GateMeasurementQueryDto,
  ProgressOverviewDto,
  RateHistoryDto,
  WaveProgressDto,
} from './progress.dto';

/**
 * A route under `waves/:id`: the wave's id (a uuid), 404 when there is no such wave (applied in the order the two
 * stacked decorators were, so the OpenAPI document is unchanged).
 */
const WaveRoute = () =>
  applyDecorators(ApiParam({ name: 'id', format: 'uuid', description: 'the wave' }), ApiProblem(404, 'not found'));

/** Dashboards: cheap reads from the counters, ETag/304, and a live stream. */
@ApiTags('progress')
@Access(...ROLES.readers)
@Controller()
export class ProgressController {
  constructor(
    private readonly cache: ProgressCache,
    private readonly eventStream: ProgressEventsService,
    private readonly progress: ProgressService,
    private readonly gates: GateEvaluator,
  ) {}

  @Get('progress')
  @ApiOperation({ summary: 'every active wave (and those finished in the last 24 h); ETag / If-None-Match → 304' })
  @ApiOkResponse({ type: ProgressOverviewDto })
  async overview(@ConditionalGet() reply: ConditionalReply, @SeesAddresses() addresses: boolean) {
    return reply(readerView(await this.cache.overview(), addresses));
  }

  @Get('waves/:id/progress')
  @ApiOperation({ summary: 'counts by state, rate, ETA, ramp step, gate values, status reason; ETag → 304' })
  @ApiOkResponse({ type: WaveProgressDto })
  @WaveRoute()
  async wave(
    @Param('id', UuidParamPipe) id: string,
    @ConditionalGet() reply: ConditionalReply,
    @SeesAddresses() addresses: boolean,
  ) {
    return reply(readerView(await this.cache.wave(id), addresses));
  }

  @Get('waves/:id/history')
  @ApiOperation({
    summary:
      "the wave's sending rate over its whole run (≤ 120 samples, from its per-batch rows), so a chart opened late " +
      'shows the whole wave; ETag → 304',
  })
  @ApiOkResponse({ type: RateHistoryDto })
  @WaveRoute()
  async history(@Param('id', UuidParamPipe) id: string, @ConditionalGet() reply: ConditionalReply) {
    return reply(await this.cache.history(id));
  }

  @Get('waves/:id/gate-measurements')
  @ApiOperation({ summary: "the prometheus gates' measurements, newest first (each evaluation's value is kept)" })
  @ApiOkResponse({ type: [GateMeasurementDto] })
  @ApiProblem(404, 'not found')
  @ApiProblem(400, 'limit is not an integer from 1 to 500')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
  async gateMeasurements(
    @Param('id', UuidParamPipe) id: string,
    @Query() query: GateMeasurementQueryDto,
  ): Promise<GateMeasurementDto[]> {
    const rows = await this.progress.gateMeasurements(id, query.limit ?? 100);
    return rows.map((m) => ({
      gate: m.gate,
      phase: m.phase,
      value: m.value ?? null,
      reason: m.reason,
      takenAt: m.takenAt,
    }));
  }

  @Get('waves/:id/gate-check')
  @ApiOperation({
    summary:
      "what the wave's gates would decide now, acting on nothing: before a start, whether each gate's input is there " +
      '(a stale signal or a silent login stream would pause it at once); `reopen preflight` reads it',
  })
  @ApiOkResponse({ type: GateCheckAnswerDto })
  @WaveRoute()
  async gateCheck(
    @Param('id', UuidParamPipe) id: string,
    @SeesAddresses() addresses: boolean,
  ): Promise<GateCheckAnswerDto> {
    const checkedAt = new Date();
    const gates = await this.gates.check(id, checkedAt);
    if (gates === null) throw new NotFoundError('wave', id);
    const answer = { waveId: id, checkedAt, gates };
    return addresses ? answer : hideAddresses(answer);
  }

  @Get('waves/:id/events')
  @ApiOperation({
    summary: 'Server-Sent Events: `progress` (data: the progress view) and `state` ({from, to, reason})',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'an event stream', schema: { type: 'string' } })
  @ApiProblem(404, 'not found')
  @ApiProblem(
    429,
    'too_many_streams: this key already holds API_SSE_MAX_STREAMS_PER_KEY (5) streams on this API process; ' +
      'rate_limited as on every route; Retry-After says when to try again',
  )
  @ApiProblem(503, 'too_many_streams: this API process already serves 500 streams')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
  events(@Param('id', UuidParamPipe) id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    return this.eventStream.stream(id, req, res);
  }
}
