import { ConfigError } from '@app/config';
import { defineDriver } from '../driver';
import { doveadmOptions } from '../doveadm.settings';
import { DovecotSqlMailstore } from './dovecot-sql.mailstore';
import { DriverOptionsError, type FlagLayout } from './dovecot-sql.options';
import { DovecotSqlSettings } from './dovecot-sql.settings';

/** The driver's option names, as the variables that set them (for the boot error of what only the driver checks). */
const VARIABLES: Record<string, string> = {
  url: 'DOVECOT_SQL_URL',
  table: 'DOVECOT_SQL_TABLE',
  loginColumn: 'DOVECOT_SQL_LOGIN_COLUMN',
  'flags.imap': 'DOVECOT_SQL_IMAP_COLUMN',
  'flags.pop3': 'DOVECOT_SQL_POP3_COLUMN',
  'flags.column': 'DOVECOT_SQL_PROTOCOLS_COLUMN',
  versionColumn: 'DOVECOT_SQL_VERSION_COLUMN',
  'doveadm.url': 'DOVEADM_URL',
  'doveadm.apiKey': 'DOVEADM_API_KEY',
  poolSize: 'DOVECOT_SQL_POOL_SIZE',
  maxBatchItems: 'DOVECOT_SQL_MAX_BATCH_ITEMS',
  timeoutMs: 'MAILSTORE_TIMEOUT_MS',
  authCacheTtlSeconds: 'DOVECOT_AUTH_CACHE_TTL_S',
};

/** MAILSTORE_DRIVER=dovecot-sql: the switches in Dovecot's SQL passdb table (docs/drivers.md). */
export const dovecotSqlDriver = defineDriver({
  name: 'dovecot-sql',
  Settings: DovecotSqlSettings,
  create(s, { connections, timeoutMs }) {
    const flags: FlagLayout =
      s.DOVECOT_SQL_PROTOCOLS_COLUMN !== undefined
        ? { kind: 'list', column: s.DOVECOT_SQL_PROTOCOLS_COLUMN }
        : { kind: 'columns', imap: s.DOVECOT_SQL_IMAP_COLUMN ?? '', pop3: s.DOVECOT_SQL_POP3_COLUMN ?? '' };
    const rps = s.DOVECOT_SQL_REQUESTS_PER_SECOND;
    const ups = s.DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND;
    try {
      return new DovecotSqlMailstore({
        // Required by the settings' checks: defined here.
        url: s.DOVECOT_SQL_URL ?? '',
        table: s.DOVECOT_SQL_TABLE ?? '',
        loginColumn: s.DOVECOT_SQL_LOGIN_COLUMN ?? '',
        flags,
        versionColumn: s.DOVECOT_SQL_VERSION_COLUMN,
        doveadm: doveadmOptions(s),
        poolSize: s.DOVECOT_SQL_POOL_SIZE ?? connections,
        timeoutMs,
        authCacheTtlSeconds: s.DOVECOT_AUTH_CACHE_TTL_S,
        maxBatchItems: s.DOVECOT_SQL_MAX_BATCH_ITEMS,
        rateLimits: {
          requestsPerSecond: rps,
          requestBurst: Math.max(1, Math.ceil(rps * 2)),
          accountUpdatesPerSecond: ups,
          accountUpdateBurst: Math.max(1, Math.ceil(ups)),
        },
      });
    } catch (err) {
      if (!(err instanceof DriverOptionsError)) throw err;
      throw new ConfigError(err.problems.map((p) => `${VARIABLES[p.option] ?? p.option} ${p.message}`));
    }
  },
});
