import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Public } from '../auth/access.decorator';
import { ApiProblem } from '../common/problem.dto';
import { HealthIndicators } from './health.indicators';

/** Open routes (no key), for orchestrators and load balancers. */
@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicators,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOkResponse({ description: 'the process answers' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOkResponse({ description: 'PostgreSQL, Redis and the mailstore capabilities all answer' })
  @ApiProblem(503, 'not_ready, with the state of each dependency')
  ready() {
    return this.health.check([
      () => this.indicators.database(),
      () => this.indicators.redis(),
      () => this.indicators.mailstore(),
    ]);
  }
}
