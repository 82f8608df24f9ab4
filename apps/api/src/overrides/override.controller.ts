import { Body, Controller, Delete, Get, HttpCode, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { OverrideService } from '@app/core';
import { HoldDto } from '../accounts/account.dto';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor } from '../auth/principal';
import { LoginParamPipe } from '../common/param.pipes';
import { ApiProblem } from '../common/problem.dto';
import { OverrideDto, OverridePageDto, OverrideQueryDto } from './override.dto';

/**
 * Support overrides of the leaked-password hold, for ops: which accounts waves include despite a password never
 * reset since the incident, until when, on whose word; and the way to end one early.
 */
@ApiTags('support')
@ApiProblem(400, 'invalid input: every bad field named')
@Controller('overrides')
export class OverrideController {
  constructor(private readonly overrides: OverrideService) {}

  @Get()
  @Access(...ROLES.supportReaders)
  @ApiOperation({ summary: 'live overrides of password_reset_required, the soonest to expire first; keyset paging' })
  @ApiOkResponse({ type: OverridePageDto })
  list(@Query() query: OverrideQueryDto): Promise<OverridePageDto> {
    return this.overrides.list(query);
  }

  @Delete(':login')
  @HttpCode(200)
  @Access(...ROLES.ops)
  @ApiParam({
    name: 'login',
    description: 'the login as the mailstore knows it, any case',
    example: 'user5@example.test',
  })
  @ApiOperation({
    summary:
      'revoke a live override (body: reason and ticket, audited): waves hold the account back again once this ' +
      'answers; its current access is not changed (POST /accounts/{login}/disable closes it)',
  })
  @ApiOkResponse({ type: OverrideDto, description: 'the override that was revoked' })
  @ApiProblem(404, 'override_not_found: the account has no live override')
  revoke(
    @Param('login', LoginParamPipe) login: string,
    @Body() body: HoldDto,
    @Actor() actor: string,
  ): Promise<OverrideDto> {
    return this.overrides.revoke(login, body, actor);
  }
}
