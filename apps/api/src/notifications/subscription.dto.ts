import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayUnique,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';
import { DELIVERY_PAGE, DELIVERY_STATES } from '@app/core';
import { NOTIFICATION_FORMATS, NOTIFICATION_KINDS, NotificationFormat, NotificationKind } from '@app/domain';

const toInt = ({ value }: { value: unknown }) =>
  typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;

export class CreateSubscriptionDto {
  @ApiProperty({ example: 'incident channel' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiProperty({ example: 'https://hooks.slack.com/services/T000/B000/XXXX', description: 'where events are POSTed' })
  @IsString()
  @MaxLength(2000)
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'url must be an http(s) URL' },
  )
  url!: string;

  @ApiPropertyOptional({
    enum: NOTIFICATION_FORMATS,
    default: 'json',
    description: 'the body: ours, or a chat webhook',
  })
  @IsOptional()
  @IsIn(NOTIFICATION_FORMATS)
  format?: NotificationFormat;

  @ApiPropertyOptional({
    enum: NOTIFICATION_KINDS,
    isArray: true,
    description: 'the kinds of event it receives; absent or empty: every kind',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(NOTIFICATION_KINDS.length)
  @ArrayUnique()
  @IsIn(NOTIFICATION_KINDS, { each: true })
  kinds?: NotificationKind[];
}

class LastFailureDto {
  @ApiProperty({ type: String, format: 'date-time', description: 'when it was given up' }) at!: Date;
  @ApiProperty({ nullable: true, type: String, description: "the receiver's last error" }) error!: string | null;
}

class DeliveryCountsDto {
  @ApiProperty() pending!: number;
  @ApiProperty() delivered!: number;
  @ApiProperty({ description: 'pending after at least one failed attempt' }) failing!: number;
  @ApiProperty({
    description: 'given up (NOTIFY_GIVE_UP_AFTER_S, NOTIFY_MAX_ATTEMPTS); POST …/redeliver sends them again',
  })
  failed!: number;
  @ApiProperty({ type: LastFailureDto, nullable: true, description: 'the latest delivery given up' })
  lastFailure!: LastFailureDto | null;
}

export class SubscriptionDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: NOTIFICATION_FORMATS }) format!: NotificationFormat;
  @ApiProperty({ enum: NOTIFICATION_KINDS, isArray: true, nullable: true, description: 'null: every kind' })
  kinds!: NotificationKind[] | null;
  @ApiProperty({ example: 'ops:alice' }) createdBy!: string;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt!: Date;
  @ApiProperty({ type: DeliveryCountsDto }) deliveries!: DeliveryCountsDto;
}

export class CreatedSubscriptionDto extends SubscriptionDto {
  @ApiProperty({
    example: 'whsec_…',
    description: 'the signing secret (HMAC-SHA256, docs/notifications.md): shown this once, never again',
  })
  secret!: string;
}

export class SubscriptionListDto {
  @ApiProperty({ type: [SubscriptionDto] }) items!: SubscriptionDto[];
}

export class DeliveryQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATES })
  @IsOptional()
  @IsIn(DELIVERY_STATES)
  state?: (typeof DELIVERY_STATES)[number];

  @ApiPropertyOptional({ description: 'nextBefore of the previous page' })
  @IsOptional()
  @IsString()
  @Matches(/^\d{1,18}$/, { message: 'before must be a delivery id' })
  before?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: DELIVERY_PAGE.max, default: DELIVERY_PAGE.default })
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(DELIVERY_PAGE.max)
  limit?: number;
}

export class DeliveryDto {
  @ApiProperty() id!: string;
  @ApiProperty({ format: 'uuid', description: 'the event id (header X-Reopen-Event-Id): the same on every attempt' })
  eventId!: string;
  @ApiProperty({ enum: NOTIFICATION_KINDS }) kind!: NotificationKind;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) waveId!: string | null;
  @ApiProperty({ type: String, format: 'date-time' }) eventAt!: Date;
  @ApiProperty({ enum: DELIVERY_STATES }) state!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) nextAttemptAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) lastAttemptAt!: Date | null;
  @ApiProperty({ nullable: true, type: Number, description: "the receiver's last HTTP status" })
  lastStatus!: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'why the last attempt failed' }) lastError!: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) deliveredAt!: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'when it was given up' })
  failedAt!: Date | null;
}

export class DeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto], description: 'newest first' }) items!: DeliveryDto[];
  @ApiProperty({ nullable: true, type: String, description: 'pass as before for the next page' })
  nextBefore!: string | null;
}

export class RedeliveredDto {
  @ApiProperty({ type: [String], description: 'the deliveries sent again (pending now, in their wave’s order)' })
  redelivered!: string[];
}
