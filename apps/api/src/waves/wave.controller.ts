import { Body, Controller, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { CreateWaveInput, WaveCommandsService, WaveQueryService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor, KeyId, SeesAddresses } from '../auth/principal';
import { ApiProblem } from '../common/problem.dto';
import { UuidParamPipe } from '../common/param.pipes';
import { CreateWaveDto, UpdateWaveDto, WaveListQueryDto } from './wave.dto';
import { WaveDto, WavePageDto, WavePreviewDto } from './wave-view.dto';

@ApiTags('waves')
@ApiProblem(400, 'invalid input, every bad field named')
@Controller('waves')
export class WaveController {
  constructor(
    private readonly commands: WaveCommandsService,
    private readonly queries: WaveQueryService,
  ) {}

  @Post()
  @Access(...ROLES.ops)
  @ApiCreatedResponse({ type: WaveDto, description: 'the draft wave' })
  async create(
    @Body() body: CreateWaveDto,
    @Actor() actor: string,
    @SeesAddresses() addresses: boolean,
  ): Promise<WaveDto> {
    // The DTO checked the shape; the service checks the rest (selector union, steps, gates, start time).
    return WaveDto.from(await this.commands.create(body as CreateWaveInput, actor), addresses);
  }

  @Get()
  @Access(...ROLES.readers)
  @ApiOkResponse({ type: WavePageDto })
  async list(@Query() query: WaveListQueryDto, @SeesAddresses() addresses: boolean): Promise<WavePageDto> {
    return WavePageDto.from(await this.queries.list(query), addresses);
  }

  @Get(':id')
  @Access(...ROLES.readers)
  @ApiOkResponse({ type: WaveDto })
  @ApiProblem(404, 'not found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
  async get(@Param('id', UuidParamPipe) id: string, @SeesAddresses() addresses: boolean): Promise<WaveDto> {
    return WaveDto.from(await this.queries.get(id), addresses);
  }

  @Patch(':id')
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: WaveDto, description: 'the wave after the change' })
  @ApiProblem(404, 'not found')
  @ApiProblem(409, 'approval_required: a rate above the approval bound needs a second ops key (docs/approvals.md)')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
  async update(
    @Param('id', UuidParamPipe) id: string,
    @Body() body: UpdateWaveDto,
    @Actor() actor: string,
    @KeyId() key: string,
    @SeesAddresses() addresses: boolean,
  ): Promise<WaveDto> {
    await this.commands.update(id, body, actor, key);
    return WaveDto.from(await this.queries.get(id), addresses);
  }

  @Get(':id/preview')
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: WavePreviewDto })
  @ApiProblem(404, 'not found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the wave' })
  preview(@Param('id', UuidParamPipe) id: string): Promise<WavePreviewDto> {
    return this.queries.preview(id);
  }
}
