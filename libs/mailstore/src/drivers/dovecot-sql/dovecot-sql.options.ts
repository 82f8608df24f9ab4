import type { RateLimits } from '../../mailstore.types';

export type SqlDialect = 'postgres' | 'mysql';

/**
 * Where the per-protocol switches live in the passdb's own table. Never assumed: the operator names them, so the
 * driver works on the schema Dovecot already reads.
 * - `columns`: one boolean column per protocol (PostgreSQL `boolean`; MySQL/MariaDB `BOOLEAN`/`TINYINT(1)`);
 * - `list`: one text column listing the allowed protocols (`imap,pop3`, commas and/or spaces); other names in it
 *   (`smtp`, `sieve` …) are kept as they are.
 */
export type FlagLayout = { kind: 'columns'; imap: string; pop3: string } | { kind: 'list'; column: string };

export interface DovecotSqlOptions {
  /** `postgres://…` / `postgresql://…` or `mysql://…` / `mariadb://…`: the passdb's database. */
  url: string;
  /** The passdb's table, optionally schema-qualified (`mail.users`). */
  table: string;
  /** The column the passdb's `WHERE` compares `%u` with; must be unique in the table. */
  loginColumn: string;
  flags: FlagLayout;
  /**
   * An integer column the driver bumps on every change (ifVersion, ETag). Without one, an account's version is a
   * fingerprint of its two switches: `ifVersion` then means "only if the switches are still as I left them".
   */
  versionColumn?: string;
  /** The doveadm HTTP API (`service doveadm { inet_listener http }`), for kicking sessions (default: `timeoutMs`). */
  doveadm?: { url: string; apiKey: string; timeoutMs?: number };
  /** Connections to the database (default 8). */
  poolSize?: number;
  /** One statement, or one doveadm call, at most this long (default 10 000 ms). */
  timeoutMs?: number;
  /** Dovecot's `auth_cache_ttl` when `auth_cache_size > 0` (seconds; 0: no cache, changes are seen at once). */
  authCacheTtlSeconds?: number;
  /** What the driver advertises: the engine paces and sizes batches from it. */
  maxBatchItems?: number;
  rateLimits?: Partial<RateLimits>;
}

export interface ResolvedDovecotSqlOptions {
  dialect: SqlDialect;
  url: string;
  /** Secrets of the configuration, blanked out of every error detail. */
  secrets: string[];
  table: string;
  loginColumn: string;
  flags: FlagLayout;
  versionColumn: string | undefined;
  doveadm: { url: URL; apiKey: string; timeoutMs: number | undefined } | undefined;
  poolSize: number;
  timeoutMs: number;
  authCacheTtlSeconds: number;
  maxBatchItems: number;
  rateLimits: RateLimits;
}

/** A misconfigured driver: each problem names the option (dovecot-sql.driver.ts maps options to variables). */
export class DriverOptionsError extends Error {
  constructor(readonly problems: { option: string; message: string }[]) {
    super(`dovecot-sql driver: ${problems.map((p) => `${p.option}: ${p.message}`).join('; ')}`);
    this.name = 'DriverOptionsError';
  }
}

/**
 * A plain SQL identifier (optionally `schema.name` for the table): letters, digits, `_`, `$`, not starting with a
 * digit, at most 64 characters a part (MySQL's limit; PostgreSQL's is 63 bytes). Identifiers are also quoted where
 * they are used; this check keeps a typo from becoming a strange but valid name.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]{0,63}$/;

const DRIVER_DEFAULTS = {
  poolSize: 8,
  timeoutMs: 10_000,
  maxBatchItems: 500,
  rateLimits: { requestsPerSecond: 50, requestBurst: 100, accountUpdatesPerSecond: 2_000, accountUpdateBurst: 2_000 },
} as const;

/** Fails at construction (boot), never on the first batch. Secrets are never part of a message. */
export function resolveDovecotSqlOptions(o: DovecotSqlOptions): ResolvedDovecotSqlOptions {
  const problems: { option: string; message: string }[] = [];
  const bad = (option: string, message: string) => problems.push({ option, message });

  let dialect: SqlDialect = 'postgres';
  const secrets: string[] = [];
  try {
    const u = new URL(o.url);
    if (u.protocol === 'postgres:' || u.protocol === 'postgresql:') dialect = 'postgres';
    else if (u.protocol === 'mysql:' || u.protocol === 'mariadb:') dialect = 'mysql';
    else bad('url', 'must start with postgres://, postgresql://, mysql:// or mariadb://');
    if (u.pathname.replace(/^\//, '') === '') bad('url', 'must name the database (…/dbname)');
    if (u.password) secrets.push(u.password, decodeURIComponent(u.password));
  } catch {
    bad('url', 'is not a URL (postgres://user@host:5432/db or mysql://user@host:3306/db)');
  }

  const identifier = (option: string, value: string | undefined, qualified = false) => {
    if (value === undefined || value === '') return bad(option, 'is required');
    const parts = qualified ? value.split('.') : [value];
    if (parts.length > 2 || !parts.every((p) => IDENTIFIER.test(p))) {
      bad(option, `must be a plain SQL identifier${qualified ? ' (or schema.table)' : ''}: letters, digits, _ and $`);
    }
  };
  identifier('table', o.table, true);
  identifier('loginColumn', o.loginColumn);
  if (o.flags.kind === 'columns') {
    identifier('flags.imap', o.flags.imap);
    identifier('flags.pop3', o.flags.pop3);
    if (o.flags.imap === o.flags.pop3) bad('flags.pop3', 'must be another column than flags.imap');
  } else {
    identifier('flags.column', o.flags.column);
  }
  if (o.versionColumn !== undefined) identifier('versionColumn', o.versionColumn);

  let doveadm: ResolvedDovecotSqlOptions['doveadm'];
  if (o.doveadm) {
    try {
      const u = new URL(o.doveadm.url);
      if (!/^https?:$/.test(u.protocol) || u.search || u.hash || u.username || u.password) throw new TypeError();
      doveadm = { url: u, apiKey: o.doveadm.apiKey, timeoutMs: o.doveadm.timeoutMs };
    } catch {
      bad('doveadm.url', 'must be an http(s) URL without credentials, e.g. http://127.0.0.1:8080');
    }
    if (!o.doveadm.apiKey || /[\r\n]/.test(o.doveadm.apiKey)) bad('doveadm.apiKey', 'must be a non-empty line');
    else secrets.push(o.doveadm.apiKey, Buffer.from(o.doveadm.apiKey).toString('base64'));
  }

  const positive = (option: string, value: number) => {
    if (!Number.isFinite(value) || value <= 0) bad(option, 'must be a positive number');
  };
  const poolSize = o.poolSize ?? DRIVER_DEFAULTS.poolSize;
  const timeoutMs = o.timeoutMs ?? DRIVER_DEFAULTS.timeoutMs;
  const maxBatchItems = o.maxBatchItems ?? DRIVER_DEFAULTS.maxBatchItems;
  const rateLimits: RateLimits = { ...DRIVER_DEFAULTS.rateLimits, ...o.rateLimits };
  const authCacheTtlSeconds = o.authCacheTtlSeconds ?? 0;
  for (const [option, value] of Object.entries({ poolSize, timeoutMs, maxBatchItems })) {
    if (!Number.isSafeInteger(value) || value < 1) bad(option, 'must be a positive integer');
  }
  for (const [key, value] of Object.entries(rateLimits) as [string, number][]) positive(`rateLimits.${key}`, value);
  if (!Number.isFinite(authCacheTtlSeconds) || authCacheTtlSeconds < 0) {
    bad('authCacheTtlSeconds', 'must be 0 or more');
  }

  if (problems.length > 0) throw new DriverOptionsError(problems);
  return {
    dialect,
    url: o.url,
    secrets: secrets.filter((s) => s.length > 0),
    table: o.table,
    loginColumn: o.loginColumn,
    flags: o.flags,
    versionColumn: o.versionColumn,
    doveadm,
    poolSize,
    timeoutMs,
    authCacheTtlSeconds,
    maxBatchItems,
    rateLimits,
  };
}

/** `name` → `"name"` (PostgreSQL) or `` `name` `` (MySQL); `schema.table` part by part. Validated names only. */
export function quoteIdentifier(dialect: SqlDialect, name: string): string {
  const q = dialect === 'postgres' ? '"' : '`';
  return name
    .split('.')
    .map((part) => `${q}${part.split(q).join(q + q)}${q}`)
    .join('.');
}

/** Replaces every configured secret in `text` (error details): no password or key ever leaves in one. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('***');
  return out;
}
