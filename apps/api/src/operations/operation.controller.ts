import { Controller, Get, Param } from '@nestjs/common';
import { ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { OperationService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { ApiProblem } from '../common/problem.dto';
import { UuidParamPipe } from '../common/param.pipes';
import { OperationDto } from './operation.dto';

@ApiTags('support')
@Controller('operations')
export class OperationController {
  constructor(private readonly operations: OperationService) {}

  @Get(':id')
  @Access(...ROLES.supportReaders)
  @ApiOkResponse({ type: OperationDto })
  @ApiProblem(404, 'not found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the operation' })
  async get(@Param('id', UuidParamPipe) id: string): Promise<OperationDto> {
    return OperationDto.from(await this.operations.get(id));
  }
}
