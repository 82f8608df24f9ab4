import { Transform } from 'class-transformer';
import { IsDefined, IsInt, Matches, Max, Min, ValidateBy } from 'class-validator';
import { toNumber, whenDriver } from './driver-choice';
import { DovecotSqlEnvironment } from './dovecot-sql.env';

/** doveadm ends sessions for both native drivers; the http driver's mailstore does it behind its contract. */
const NATIVE = ['dovecot-sql', 'ldap'] as const;
const whenDoveadm = () => whenDriver<DoveadmEnvironment>(NATIVE, (o) => o.DOVEADM_URL !== undefined);

function isDoveadmUrl(value: unknown): boolean {
  try {
    const u = new URL(String(value));
    return /^https?:$/.test(u.protocol) && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}

/**
 * Dovecot's doveadm HTTP API, shared by the two native drivers (dovecot-sql, ldap; docs/drivers.md): live sessions are
 * kicked through it when a protocol is turned off. Checked only when one of them is chosen and DOVEADM_URL is set.
 */
export abstract class DoveadmEnvironment extends DovecotSqlEnvironment {
  /**
   * `service doveadm { inet_listener http }`, e.g. http://127.0.0.1:8080 (the API's path, /doveadm/v1, is added when
   * the URL has none). Unset: sessions are not revoked (capabilities say so).
   */
  @whenDoveadm()
  @ValidateBy({
    name: 'doveadmUrl',
    validator: {
      validate: isDoveadmUrl,
      defaultMessage: () =>
        'DOVEADM_URL must be an http(s) URL without credentials, query or fragment, e.g. http://127.0.0.1:8080',
    },
  })
  DOVEADM_URL: string | undefined = undefined;

  /** doveadm_api_key of that Dovecot; required with DOVEADM_URL. Never logged, never in a message. */
  @whenDoveadm()
  @Matches(/^[^\r\n]+$/, { message: 'DOVEADM_API_KEY must be one line' })
  @IsDefined({ message: 'DOVEADM_API_KEY is required with DOVEADM_URL' })
  DOVEADM_API_KEY: string | undefined = undefined;

  /** One doveadm request (every kick of a batch) at most this long. */
  @whenDoveadm()
  @Transform(toNumber)
  @Max(60000, { message: 'DOVEADM_TIMEOUT_MS must be an integer from 100 to 60000' })
  @Min(100, { message: 'DOVEADM_TIMEOUT_MS must be an integer from 100 to 60000' })
  @IsInt({ message: 'DOVEADM_TIMEOUT_MS must be an integer from 100 to 60000' })
  DOVEADM_TIMEOUT_MS = 5000;
}
