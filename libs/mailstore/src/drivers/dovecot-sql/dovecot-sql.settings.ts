import { Transform } from 'class-transformer';
import { IsDefined, IsInt, IsNumber, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { toNumber } from '@app/config';
import { DoveadmSettings } from '../doveadm.settings';
import { SwitchLayoutHolds } from '../switch-layout';

const FlagLayout = () =>
  SwitchLayoutHolds({
    driver: 'dovecot-sql',
    imap: 'DOVECOT_SQL_IMAP_COLUMN',
    pop3: 'DOVECOT_SQL_POP3_COLUMN',
    list: 'DOVECOT_SQL_PROTOCOLS_COLUMN',
    unit: 'column',
    listing: '(one column listing the allowed protocols)',
  });

/**
 * The settings of the `dovecot-sql` mailstore driver (MAILSTORE_DRIVER=dovecot-sql; docs/drivers.md,
 * deploy/dovecot/). Table and column names are the operator's: the driver checks they are plain identifiers when it
 * starts (dovecot-sql.driver.ts) and quotes them. Read and checked at boot when MAILSTORE_DRIVER=dovecot-sql.
 */
export class DovecotSqlSettings extends DoveadmSettings {
  /** The passdb's database: postgres://… or mysql://… (MariaDB too). Its password never appears in a log line. */
  @Matches(/^(postgres(ql)?|mysql|mariadb):\/\/\S+\/[^/\s?]+(\?\S*)?$/, {
    message: 'DOVECOT_SQL_URL must look like postgres://user@host:5432/db or mysql://user@host:3306/db',
  })
  @IsDefined({ message: 'DOVECOT_SQL_URL is required with MAILSTORE_DRIVER=dovecot-sql' })
  DOVECOT_SQL_URL: string | undefined = undefined;

  /** The table Dovecot's password_query reads (schema.table allowed). */
  @IsDefined({ message: 'DOVECOT_SQL_TABLE is required with MAILSTORE_DRIVER=dovecot-sql' })
  DOVECOT_SQL_TABLE: string | undefined = undefined;

  /** Its column compared with %u (unique). */
  @IsDefined({ message: 'DOVECOT_SQL_LOGIN_COLUMN is required with MAILSTORE_DRIVER=dovecot-sql' })
  DOVECOT_SQL_LOGIN_COLUMN: string | undefined = undefined;

  /** One boolean column per protocol… */
  @FlagLayout()
  DOVECOT_SQL_IMAP_COLUMN: string | undefined = undefined;

  @IsString()
  @IsOptional()
  DOVECOT_SQL_POP3_COLUMN: string | undefined = undefined;

  /** …or one text column listing the allowed protocols ('imap,pop3'). */
  @IsString()
  @IsOptional()
  DOVECOT_SQL_PROTOCOLS_COLUMN: string | undefined = undefined;

  /** An integer column bumped on every change (optional: without it, versions are a fingerprint of the switches). */
  @IsString()
  @IsOptional()
  DOVECOT_SQL_VERSION_COLUMN: string | undefined = undefined;

  /** Connections to the passdb's database (default: WORKER_CONCURRENCY + 4, one per pump and a few). */
  @IsOptional()
  @Transform(toNumber)
  @Min(1)
  @Max(256)
  @IsInt({ message: 'DOVECOT_SQL_POOL_SIZE must be an integer' })
  DOVECOT_SQL_POOL_SIZE: number | undefined = undefined;

  /** Items per batch (one transaction) the driver accepts; the engine sizes batches from it. */
  @Transform(toNumber)
  @Min(1)
  @Max(10000)
  @IsInt({ message: 'DOVECOT_SQL_MAX_BATCH_ITEMS must be an integer' })
  DOVECOT_SQL_MAX_BATCH_ITEMS = 500;

  /** The pace the driver advertises (the engine's shared throttle keeps to it): batches per second… */
  @Transform(toNumber)
  @Min(0.1)
  @IsNumber({}, { message: 'DOVECOT_SQL_REQUESTS_PER_SECOND must be a number' })
  DOVECOT_SQL_REQUESTS_PER_SECOND = 50;

  /** …and accounts changed per second (a burst of as many). */
  @Transform(toNumber)
  @Min(1)
  @IsNumber({}, { message: 'DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND must be a number' })
  DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND = 2000;

  /**
   * Dovecot's auth_cache_ttl in seconds when its auth cache is on (auth_cache_size > 0): a change is then guaranteed
   * visible only after it, and the service verifies after it. 0 (default): no auth cache, changes are seen at once.
   */
  @Transform(toNumber)
  @Min(0)
  @Max(86400)
  @IsInt({ message: 'DOVECOT_AUTH_CACHE_TTL_S must be an integer' })
  DOVECOT_AUTH_CACHE_TTL_S = 0;
}
