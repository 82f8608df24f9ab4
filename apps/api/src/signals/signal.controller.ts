import { Body, Controller, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { SignalService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor } from '../auth/principal';
import { ApiProblem } from '../common/problem.dto';
import { SignalStreamMetrics } from '../metrics/signal-metrics';
import { CreateSignalDto, SignalDto } from './signal.dto';

@ApiTags('signals')
@Controller('signals')
export class SignalController {
  constructor(
    private readonly signals: SignalService,
    private readonly metrics: SignalStreamMetrics,
  ) {}

  @Post()
  @Access(...ROLES.signals)
  @ApiCreatedResponse({ type: SignalDto })
  @ApiProblem(400, 'invalid input: every bad field named')
  async record(@Body() body: CreateSignalDto, @Actor() actor: string): Promise<SignalDto> {
    const recorded = await this.signals.record(body, actor);
    this.metrics.signalReceived();
    return recorded;
  }
}
