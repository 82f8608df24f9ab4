import { ApiProperty } from '@nestjs/swagger';

export class LoginEventsAcceptedDto {
  @ApiProperty({ description: 'events counted' })
  accepted!: number;

  @ApiProperty({
    description:
      'events dropped, by reason: malformed, not_a_login (another event), other_service (not imap or pop3), stale ' +
      '(older than 10 minutes or ahead of the clock), duplicate (posted twice), overflow (PostgreSQL away too long)',
    example: { duplicate: 1 },
  })
  dropped!: Record<string, number>;
}
