import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService } from '@nestjs/terminus';
import { Public } from '../auth/access.decorator';
import { ApiProblem } from '../common/problem.dto';
import { DependenciesDto } from './health.dto';
import { HealthIndicators } from './health.indicators';

/** Open routes (no key), for orchestrators, load balancers and monitoring. */
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
  @ApiOperation({
    summary: 'Readiness: what this process needs to serve (PostgreSQL, Redis); the mailstore is not one of them',
  })
  @ApiOkResponse({ description: 'PostgreSQL and Redis answer' })
  @ApiProblem(503, 'not_ready, with the state of each dependency')
  ready() {
    return this.health.check([() => this.indicators.database(), () => this.indicators.redis()]);
  }

  @Get('dependencies')
  @ApiOperation({
    summary:
      'Every dependency, the mailstore included, as this process sees it now; always 200 (a report, not a probe)',
  })
  @ApiOkResponse({ type: DependenciesDto })
  async dependencies(): Promise<DependenciesDto> {
    const dependencies = await this.indicators.dependencies();
    const down = Object.values(dependencies).some((d) => d.status === 'down');
    return { status: down ? 'degraded' : 'ok', dependencies };
  }
}
