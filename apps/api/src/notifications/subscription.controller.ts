import { Body, Controller, Delete, Get, HttpCode, Injectable, Param, PipeTransform, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiParam, ApiTags } from '@nestjs/swagger';
import { NotificationService } from '@app/core';
import { Access, ROLES } from '../auth/access.decorator';
import { Actor } from '../auth/principal';
import { UuidParamPipe } from '../common/param.pipes';
import { invalidParameter } from '../common/api-exceptions';
import { ApiProblem } from '../common/problem.dto';
import {
  CreatedSubscriptionDto,
  CreateSubscriptionDto,
  DeliveryPageDto,
  DeliveryQueryDto,
  RedeliveredDto,
  SubscriptionDto,
  SubscriptionListDto,
} from './subscription.dto';

/** A delivery's id is a positive bigint (as GET …/deliveries shows it): anything else is a 400 naming it. */
@Injectable()
class DeliveryIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!/^[1-9]\d{0,17}$/.test(value)) throw invalidParameter('deliveryId', 'must be a delivery id');
    return value;
  }
}

/** Ops' subscriptions to the service's events (issue 20, docs/notifications.md). */
@ApiTags('notifications')
@ApiProblem(400, 'invalid input, every bad field named')
@Controller('subscriptions')
export class SubscriptionController {
  constructor(private readonly notifications: NotificationService) {}

  @Post()
  @Access(...ROLES.ops)
  @ApiCreatedResponse({ type: CreatedSubscriptionDto, description: 'the subscription, with its secret (shown once)' })
  create(@Body() body: CreateSubscriptionDto, @Actor() actor: string): Promise<CreatedSubscriptionDto> {
    return this.notifications.create(body, actor);
  }

  @Get()
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: SubscriptionListDto })
  async list(): Promise<SubscriptionListDto> {
    return { items: await this.notifications.list() };
  }

  @Get(':id')
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: SubscriptionDto })
  @ApiProblem(404, 'subscription_not_found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the subscription' })
  get(@Param('id', UuidParamPipe) id: string): Promise<SubscriptionDto> {
    return this.notifications.get(id);
  }

  @Delete(':id')
  @HttpCode(204)
  @Access(...ROLES.ops)
  @ApiNoContentResponse({ description: 'ended: what it had not received yet is dropped' })
  @ApiProblem(404, 'subscription_not_found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the subscription' })
  async delete(@Param('id', UuidParamPipe) id: string, @Actor() actor: string): Promise<void> {
    await this.notifications.delete(id, actor);
  }

  @Get(':id/deliveries')
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: DeliveryPageDto, description: 'its deliveries, newest first: state, attempts, last failure' })
  @ApiProblem(404, 'subscription_not_found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the subscription' })
  deliveries(@Param('id', UuidParamPipe) id: string, @Query() query: DeliveryQueryDto): Promise<DeliveryPageDto> {
    return this.notifications.deliveries(id, query);
  }

  @Post(':id/deliveries/redeliver')
  @HttpCode(200)
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: RedeliveredDto, description: 'every failed delivery of the subscription, pending again' })
  @ApiProblem(404, 'subscription_not_found')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the subscription' })
  redeliverAll(@Param('id', UuidParamPipe) id: string, @Actor() actor: string): Promise<RedeliveredDto> {
    return this.notifications.redeliver(id, null, actor);
  }

  @Post(':id/deliveries/:deliveryId/redeliver')
  @HttpCode(200)
  @Access(...ROLES.ops)
  @ApiOkResponse({ type: RedeliveredDto, description: 'the failed delivery, pending again' })
  @ApiProblem(404, 'subscription_not_found, delivery_not_found (not a failed delivery of it)')
  @ApiParam({ name: 'id', format: 'uuid', description: 'the subscription' })
  @ApiParam({
    name: 'deliveryId',
    description: 'a delivery id (GET …/deliveries)',
    schema: { type: 'string', pattern: '^[1-9][0-9]{0,17}$', example: '1' },
  })
  redeliverOne(
    @Param('id', UuidParamPipe) id: string,
    @Param('deliveryId', DeliveryIdPipe) deliveryId: string,
    @Actor() actor: string,
  ): Promise<RedeliveredDto> {
    return this.notifications.redeliver(id, deliveryId, actor);
  }
}
