import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApprovalService } from '@app/core';
import { hideLogins } from '@app/domain';
import { Access, ROLES } from '../auth/access.decorator';
import { Caller, Principal, SeesAddresses } from '../auth/principal';
import { UuidParamPipe } from '../common/param.pipes';
import { ApiProblem } from '../common/problem.dto';
import { ApprovalDetailDto, ApprovalDto, ApprovalQueryDto, ApproveDto, RejectDto } from './approval.dto';

/**
 * Two-person approval (docs/approvals.md): the requests the commands made when the policy asks for a second ops key,
 * and their decision. The command itself runs when sent again after the approval.
 */
@ApiTags('approvals')
@ApiProblem(400, 'invalid input: every bad field named')
@Controller('approvals')
export class ApprovalController {
  constructor(private readonly approvals: ApprovalService) {}

  @Get()
  @Access(...ROLES.readers)
  @ApiOperation({
    summary:
      'approval requests (default: pending), newest first, each with the diff since the last approval of its wave',
  })
  @ApiOkResponse({ type: [ApprovalDto] })
  async list(@Query() query: ApprovalQueryDto, @SeesAddresses() addresses: boolean): Promise<ApprovalDto[]> {
    const views = await this.approvals.list(query);
    return addresses ? views : hideLogins(views);
  }

  @Get(':id')
  @Access(...ROLES.readers)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({ summary: 'one request; an open one with its plan and counts read again (current)' })
  @ApiOkResponse({ type: ApprovalDetailDto })
  @ApiProblem(404, 'approval_not_found')
  async show(@Param('id', UuidParamPipe) id: string, @SeesAddresses() addresses: boolean): Promise<ApprovalDetailDto> {
    const view = await this.approvals.show(id);
    return addresses ? view : hideLogins(view);
  }

  @Post(':id/approve')
  @HttpCode(200)
  @Access(...ROLES.ops)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary:
      'a second ops key approves: the requester may then send the command again, within the TTL, while the plan ' +
      'and the preview counts hash the same',
  })
  @ApiOkResponse({ type: ApprovalDto })
  @ApiProblem(403, "self_approval: the requester's own key, or another key of its name, cannot approve")
  @ApiProblem(404, 'approval_not_found')
  @ApiProblem(
    409,
    'approval_not_pending, approval_expired; approval_invalidated: the plan or the counts moved (changes listed)',
  )
  approve(
    @Param('id', UuidParamPipe) id: string,
    @Body() body: ApproveDto,
    @Caller() caller: Principal,
  ): Promise<ApprovalDto> {
    return this.approvals.approve(id, { actor: caller.actor, key: caller.keyId, role: caller.role }, body.note ?? null);
  }

  @Post(':id/reject')
  @HttpCode(200)
  @Access(...ROLES.supportReaders)
  @ApiParam({ name: 'id', format: 'uuid' })
  @ApiOperation({
    summary:
      'an ops key (the requester too) rejects an open request, with a reason; a support key withdraws an override ' +
      'request it made',
  })
  @ApiOkResponse({ type: ApprovalDto })
  @ApiProblem(403, 'forbidden: a support key withdraws only a request it made')
  @ApiProblem(404, 'approval_not_found')
  @ApiProblem(409, 'approval_not_pending, approval_expired')
  reject(
    @Param('id', UuidParamPipe) id: string,
    @Body() body: RejectDto,
    @Caller() caller: Principal,
  ): Promise<ApprovalDto> {
    return this.approvals.reject(id, { actor: caller.actor, key: caller.keyId, role: caller.role }, body.reason);
  }
}
