import { applyDecorators, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CommandResult, WaveCommandsService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor, KeyId } from '../auth/principal';
import { ApiProblem } from '../common/problem.dto';
import { UuidParamPipe } from '../common/param.pipes';
import { CommandResultDto } from './wave.dto';

/** 200 with the transition (commands are synchronous: the new state is committed when they answer). */
const Command = (summary: string) =>
  applyDecorators(HttpCode(200), ApiOperation({ summary }), ApiOkResponse({ type: CommandResultDto }));

/** Lifecycle commands: each is one transaction under the wave's lock; an illegal one is a 409 with the state. */
@ApiTags('waves')
@Access(...ROLES.ops)
@ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
@ApiProblem(404, 'wave_not_found')
@ApiProblem(
  409,
  'illegal_transition, with currentState and allowed commands; or approval_required (docs/approvals.md): the ' +
    'policy needs a second ops key, the request is made (approvalId): approve it with another ops key, then send ' +
    'the command again',
)
@Controller('waves/:id')
export class WaveLifecycleController {
  constructor(private readonly commands: WaveCommandsService) {}

  @Post('schedule')
  @Command(
    'draft → scheduled: starts by itself at startAt (startLocal in timeZone); a start more than 15 min past is ' +
      'refused (409 start_passed, field startLocal): it would start at once, unplanned; use start for that',
  )
  schedule(
    @Param('id', UuidParamPipe) id: string,
    @Actor() actor: string,
    @KeyId() key: string,
  ): Promise<CommandResult> {
    return this.commands.schedule(id, actor, key);
  }

  @Post('unschedule')
  @Command('scheduled → draft')
  unschedule(
    @Param('id', UuidParamPipe) id: string,
    @Actor() actor: string,
    @KeyId() key: string,
  ): Promise<CommandResult> {
    return this.commands.unschedule(id, actor, key);
  }

  @Post('start')
  @Command('draft | scheduled → running now (freezes the membership)')
  start(@Param('id', UuidParamPipe) id: string, @Actor() actor: string, @KeyId() key: string): Promise<CommandResult> {
    return this.commands.start(id, actor, key);
  }

  @Post('pause')
  @Command('running → paused: once answered, no new mailstore call starts')
  pause(@Param('id', UuidParamPipe) id: string, @Actor() actor: string, @KeyId() key: string): Promise<CommandResult> {
    return this.commands.pause(id, actor, key);
  }

  @Post('resume')
  @Command('paused | halted → running')
  resume(@Param('id', UuidParamPipe) id: string, @Actor() actor: string, @KeyId() key: string): Promise<CommandResult> {
    return this.commands.resume(id, actor, key);
  }

  @Post('cancel')
  @Command('→ cancelled: pending members are not processed')
  cancel(@Param('id', UuidParamPipe) id: string, @Actor() actor: string, @KeyId() key: string): Promise<CommandResult> {
    return this.commands.cancel(id, actor, key);
  }

  @Post('rollback')
  @Command('→ rolling_back: restores each changed account to its prior state (idempotent)')
  rollback(
    @Param('id', UuidParamPipe) id: string,
    @Actor() actor: string,
    @KeyId() key: string,
  ): Promise<CommandResult> {
    return this.commands.rollback(id, actor, key);
  }
}
