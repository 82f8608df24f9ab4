import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

export class ImportQueryDto {
  @ApiPropertyOptional({ description: 'import the good lines and report the bad ones (default: all or nothing)' })
  @IsOptional()
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'partial must be true or false' })
  partial?: boolean;
}

export class ImportLineErrorDto {
  @ApiProperty({ description: 'line number in the file (the header is line 1)' }) line!: number;
  @ApiPropertyOptional({ enum: ['login', 'cohorts', 'leaked', 'password_changed_at'] }) field?: string;
  @ApiProperty({ example: 'bad login "not-a-login"' }) reason!: string;
}

/** The same report as the CLI's `import-accounts --json`. */
export class ImportReportDto {
  @ApiProperty({ enum: ['imported', 'rejected'] }) status!: 'imported' | 'rejected';
  @ApiProperty() partial!: boolean;
  @ApiProperty({ description: 'data lines read (header and blank lines not counted)' }) lines!: number;
  @ApiProperty() valid!: number;
  @ApiProperty() rejected!: number;
  @ApiProperty() inserted!: number;
  @ApiProperty() updated!: number;
  @ApiProperty() unchanged!: number;
  @ApiProperty({
    description:
      'accounts this import updated that the service records open (IMAP or POP3) and that their new values hold back ' +
      '(password_reset_required, e.g. a late leaked list): nothing closes them by itself',
  })
  openHeld!: number;
  @ApiProperty({ type: [String], description: 'their logins, in order (the first 1000)' })
  openHeldLogins!: string[];
  @ApiProperty({ type: [ImportLineErrorDto], description: 'bad lines in order (the first 1000)' })
  errors!: ImportLineErrorDto[];
  @ApiProperty() errorsTruncated!: boolean;
  @ApiProperty() durationMs!: number;
}
