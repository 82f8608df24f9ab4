import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { buildInfo } from '@app/core';
import { countWorkers, isConnectionError, WorkerRoster } from '@app/queue';
import { ApiError } from '../common/api-exceptions';
import { Access, ROLES } from '../auth/access.decorator';
import { ApiProblem } from '../common/problem.dto';
import { WorkersDto } from './worker.dto';

/** The worker processes, from their reports (libs/queue WorkerRoster). Behind a key: it names hosts and pids. */
@ApiTags('operations')
@Controller('workers')
export class WorkerController {
  constructor(private readonly roster: WorkerRoster) {}

  @Get()
  @Access(...ROLES.readers)
  @ApiOperation({ summary: 'The worker processes alive now and those that stopped in the last hour' })
  @ApiOkResponse({ type: WorkersDto })
  @ApiProblem(503, 'Redis, where the workers report, does not answer')
  async list(): Promise<WorkersDto> {
    try {
      const workers = await this.roster.read();
      return { alive: countWorkers(workers).alive, api: buildInfo(), workers };
    } catch (err) {
      // ioredis's refusals on the fail-fast connection (offline, closed, Command timed out) are connection errors.
      if (!isConnectionError(err)) throw err;
      throw new ApiError(503, 'unavailable', 'the worker roster could not be read: redis unreachable');
    }
  }
}
