import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** One dependency as GET /health/dependencies reports it. */
class DependencyStateDto {
  @ApiProperty({ enum: ['up', 'down'] })
  status!: 'up' | 'down';

  @ApiProperty({
    description:
      'Whether readiness (GET /health/ready) waits for it: PostgreSQL and Redis yes, the mailstore and the workers ' +
      'never (an outage of the provider pauses waves; it must not take the API, its status page and its Pause button ' +
      'out of service)',
  })
  neededForReady!: boolean;

  @ApiPropertyOptional({ description: 'Why it is down, one line', example: 'capabilities answered HTTP 503' })
  message?: string;
}

class DependencyStatesDto {
  @ApiProperty() database!: DependencyStateDto;
  @ApiProperty() redis!: DependencyStateDto;
  @ApiProperty() mailstore!: DependencyStateDto;
  @ApiProperty({ description: 'At least one worker process reported in the last 15 s (GET /workers names them)' })
  workers!: DependencyStateDto;
}

export class DependenciesDto {
  @ApiProperty({ enum: ['ok', 'degraded'], description: 'degraded: at least one dependency is down' })
  status!: 'ok' | 'degraded';

  @ApiProperty()
  dependencies!: DependencyStatesDto;
}
