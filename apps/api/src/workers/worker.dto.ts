import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** A worker process as its own reports describe it. */
export class WorkerDto {
  @ApiProperty({ example: 'worker-7d9f/42/a1b2c3', description: 'host/pid/random, unique per process start' })
  id!: string;
  @ApiProperty({ description: 'reported in the last 15 s and not stopping' }) alive!: boolean;
  @ApiProperty({ example: '1.0.0' }) version!: string;
  @ApiProperty({ example: '3a87f93c1d2e' }) commit!: string;
  @ApiProperty() hostname!: string;
  @ApiProperty() pid!: number;
  @ApiProperty({ enum: ['http', 'dovecot-sql', 'ldap'], description: 'MAILSTORE_DRIVER' }) driver!: string;
  @ApiProperty({ type: String, format: 'date-time' }) startedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'its last report (every 5 s while it runs)' })
  lastSeenAt!: string;
  @ApiPropertyOptional({ type: String, format: 'date-time', description: 'when it stopped on purpose' })
  leftAt?: string;
}

/** A process's build: package.json's version and the commit. */
export class BuildDto {
  @ApiProperty({ example: '1.0.0' }) version!: string;
  @ApiProperty({ example: '3a87f93c1d2e' }) commit!: string;
}

/** The worker roster: who runs the waves and the support lane now, and who stopped in the last hour. */
export class WorkersDto {
  @ApiProperty({ description: 'workers alive now: 0 means no wave moves, no scheduled start fires' })
  alive!: number;
  @ApiProperty({ description: "this API process's build, to compare with the workers'" })
  api!: BuildDto;
  @ApiProperty({ type: [WorkerDto], description: 'the alive first, then by last report' })
  workers!: WorkerDto[];
}
