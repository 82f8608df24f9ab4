import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuditQueryService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { ApiProblem } from '../common/problem.dto';
import { AuditPageDto, AuditQueryDto } from './audit.dto';

@ApiTags('audit')
@Controller('audit')
export class AuditController {
  constructor(private readonly audit: AuditQueryService) {}

  @Get()
  @Access(...ROLES.ops)
  @ApiOperation({ summary: 'the append-only log, newest first; filter by wave, login, time, action; keyset paging' })
  @ApiOkResponse({ type: AuditPageDto })
  @ApiProblem(400, 'invalid input: every bad field named')
  find(@Query() query: AuditQueryDto): Promise<AuditPageDto> {
    return this.audit.find(query);
  }
}
