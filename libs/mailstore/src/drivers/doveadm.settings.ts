import { Transform } from 'class-transformer';
import { IsDefined, IsInt, Matches, Max, Min, ValidateBy, ValidateIf } from 'class-validator';
import { toNumber } from '@app/config';

/** Checked only when DOVEADM_URL is set. */
const whenDoveadm = () => ValidateIf((o: DoveadmSettings) => o.DOVEADM_URL !== undefined);

function isDoveadmUrl(value: unknown): boolean {
  try {
    const u = new URL(String(value));
    return /^https?:$/.test(u.protocol) && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}

/**
 * Dovecot's doveadm HTTP API, shared by the two native drivers (dovecot-sql, ldap: their settings extend this class;
 * docs/drivers.md): live sessions are kicked through it when a protocol is turned off. The http driver's mailstore
 * does that behind its contract.
 */
export abstract class DoveadmSettings {
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

/** The doveadm options of a native driver, when DOVEADM_URL is set. */
export function doveadmOptions(s: DoveadmSettings): { url: string; apiKey: string; timeoutMs: number } | undefined {
  return s.DOVEADM_URL === undefined
    ? undefined
    : { url: s.DOVEADM_URL, apiKey: s.DOVEADM_API_KEY ?? '', timeoutMs: s.DOVEADM_TIMEOUT_MS };
}
