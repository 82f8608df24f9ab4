import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { clientKey, OperationService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor, KeyId } from '../auth/principal';
import { LoginParamPipe } from '../common/param.pipes';
import { ApiProblem } from '../common/problem.dto';
import { OperationDto } from '../operations/operation.dto';
import { AccountLookupService } from './account-lookup.service';
import { ApiIdempotencyKey, IdempotencyKey } from './idempotency-key';
import { AccountDto, HoldDto, RollbackAccountDto, SupportChangeDto, SupportEnableDto } from './account.dto';

/** Support: one account at a time, always with a reason and a ticket (audited). */
@ApiTags('support')
@ApiProblem(404, 'account_not_found')
@ApiProblem(400, 'invalid input: every bad field named')
@ApiParam({
  name: 'login',
  description: 'the login as the mailstore knows it, any case',
  example: 'user5@example.test',
})
@Controller('accounts/:login')
export class AccountController {
  constructor(
    private readonly lookup: AccountLookupService,
    private readonly operations: OperationService,
  ) {}

  @Get()
  @Access(...ROLES.supportReaders)
  @ApiOkResponse({ type: AccountDto })
  get(@Param('login', LoginParamPipe) login: string): Promise<AccountDto> {
    return this.lookup.get(login);
  }

  @Post('enable')
  @HttpCode(202)
  @Access(...ROLES.support)
  @ApiOperation({
    summary:
      'open POP/IMAP for one account, ahead of any wave; an account waves hold back needs override: true (the ' +
      "answer's overrides say what was overridden); poll GET /operations/{id}",
  })
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiProblem(
    409,
    'override_required: the account is held back; set override to true to open it anyway; approval_required: ' +
      'the policy puts an override behind a second ops key (docs/approvals.md)',
  )
  @ApiIdempotencyKey()
  async enable(
    @Param('login', LoginParamPipe) login: string,
    @Body() body: SupportEnableDto,
    @Actor() actor: string,
    @KeyId() key: string,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<OperationDto> {
    const client = idempotencyKey === undefined ? undefined : clientKey(idempotencyKey, 'enable', login, body);
    return OperationDto.from(await this.operations.request(login, 'enable', body, actor, key, client));
  }

  @Post('disable')
  @HttpCode(202)
  @Access(...ROLES.support)
  @ApiOperation({
    summary:
      're-block one account (and revoke its sessions); ends its override of password_reset_required, if any; ' +
      'poll GET /operations/{id}',
  })
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiIdempotencyKey()
  async disable(
    @Param('login', LoginParamPipe) login: string,
    @Body() body: SupportChangeDto,
    @Actor() actor: string,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<OperationDto> {
    const client = idempotencyKey === undefined ? undefined : clientKey(idempotencyKey, 'disable', login, body);
    return OperationDto.from(await this.operations.request(login, 'disable', body, actor, undefined, client));
  }

  @Post('rollback')
  @HttpCode(202)
  @Access(...ROLES.support)
  @ApiOperation({
    summary:
      "undo a wave's change on one account: its exact prior protocols come back (If-Match on the version the wave " +
      'left, so a later change is kept and reported as a conflict); poll GET /operations/{id}',
  })
  @ApiAcceptedResponse({ type: OperationDto })
  @ApiProblem(409, 'nothing_to_roll_back: no wave change on this account is left to undo')
  @ApiIdempotencyKey()
  async rollback(
    @Param('login', LoginParamPipe) login: string,
    @Body() body: RollbackAccountDto,
    @Actor() actor: string,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<OperationDto> {
    const client = idempotencyKey === undefined ? undefined : clientKey(idempotencyKey, 'rollback', login, body);
    return OperationDto.from(await this.operations.requestRollback(login, body, actor, client));
  }

  @Post('hold')
  @HttpCode(200)
  @Access(...ROLES.support)
  @ApiOperation({ summary: 'keep the account out of every wave' })
  @ApiOkResponse({ type: AccountDto })
  async hold(@Param('login', LoginParamPipe) login: string, @Body() body: HoldDto, @Actor() actor: string) {
    await this.operations.setHold(login, true, body, actor);
    return this.lookup.get(login);
  }

  @Delete('hold')
  @HttpCode(200)
  @Access(...ROLES.support)
  @ApiOperation({
    summary:
      'let the account back into waves (body: reason and ticket, audited); lifting a hold is an override: the ' +
      'support_override rule puts it behind a second ops key',
  })
  @ApiOkResponse({ type: AccountDto })
  @ApiProblem(409, 'approval_required: the policy puts lifting a hold behind a second ops key (docs/approvals.md)')
  async release(
    @Param('login', LoginParamPipe) login: string,
    @Body() body: HoldDto,
    @Actor() actor: string,
    @KeyId() key: string,
  ) {
    await this.operations.setHold(login, false, body, actor, key);
    return this.lookup.get(login);
  }
}
