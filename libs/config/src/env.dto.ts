import { Transform } from 'class-transformer';
import { APPROVAL_RULES, DEFAULT_OVERRIDE_TTL_S, DEFAULT_PACE, parseTargetAllowList } from '@app/domain';
import { IsIn, IsInt, IsISO8601, IsNumber, IsOptional, IsString, Matches, Max, Min, ValidateBy } from 'class-validator';
import { AtLeast } from './at-least.validator';
import { IntegerFrom, toNumber } from './settings';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const POSTGRES_URL = /^postgres(ql)?:\/\/[^\s]+\/[A-Za-z0-9_-]+(\?.*)?$/;

/** A batch's lease must outlast one mailstore attempt and the settle after it: the request timeout plus this. */
export const LEASE_MARGIN_MS = 5000;

const ENVIRONMENTS = new WeakMap<EnvironmentDto, Readonly<Record<string, string | undefined>>>();

/** Keeps the variables `config` was read from, for its `environment` (load-config.ts). */
export function rememberEnvironment(config: EnvironmentDto, env: Readonly<Record<string, string | undefined>>): void {
  ENVIRONMENTS.set(config, { ...env });
}

/**
 * The process environment, validated once at boot (style.md: fail at boot, not at 3 a.m.).
 * Names are fixed: docs, CI, docker-compose and other tools set them.
 */
export class EnvironmentDto {
  /**
   * The variables this configuration was read from (loadConfig's `env`; none for one built with `new`): the mailstore
   * driver reads its own from them. A getter, not a field: no spread, log line or JSON of the configuration carries
   * them (a driver's password among them).
   */
  get environment(): Readonly<Record<string, string | undefined>> {
    return ENVIRONMENTS.get(this) ?? {};
  }

  /**
   * PostgreSQL, the source of truth, as the runtime role: the API and the worker connect with it. That role may
   * read and write what the service needs and nothing more (it cannot alter, disable or bypass the audit log); they
   * refuse to start when it can (docs/security.md, "Database roles"). `migrate` creates it when it is missing.
   */
  @Matches(POSTGRES_URL, { message: 'DATABASE_URL must look like postgres://user@host:5432/database' })
  DATABASE_URL = 'postgres://reopen_app@127.0.0.1:5432/reopen';

  /**
   * The same database as the role that owns the schema: `migrate` and the API-key commands use it, never the API
   * or the worker. Only the CLI reads it.
   */
  @Matches(POSTGRES_URL, { message: 'OWNER_DATABASE_URL must look like postgres://user@host:5432/database' })
  OWNER_DATABASE_URL = 'postgres://root@127.0.0.1:5432/reopen';

  /** Redis for BullMQ. */
  @Matches(/^rediss?:\/\/[^\s]+$/, { message: 'REDIS_URL must look like redis://host:6379' })
  REDIS_URL = 'redis://127.0.0.1:6379';

  /** Key prefix for every BullMQ key, so several deployments (or test runs) share one Redis. */
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'REDIS_PREFIX must be 1-64 characters of [A-Za-z0-9_.-]' })
  REDIS_PREFIX = 'reopen';

  /**
   * How the worker reaches the mailstore: the name of a driver (libs/mailstore/src/drivers/registry.ts,
   * docs/drivers.md). `http`, the provisioning contract at MAILSTORE_URL; `dovecot-sql`, Dovecot's SQL passdb table
   * (DOVECOT_SQL_*, DOVEADM_*); `ldap`, the directory Dovecot's LDAP passdb reads (LDAP_*, DOVEADM_*). The driver reads
   * and checks its own variables at boot (createMailstore), and an unknown name is refused with the choices (libs/core check-environment.ts).
   */
  @IsString()
  MAILSTORE_DRIVER = 'http';

  @IntegerFrom(0, 65535)
  PORT = 3000;

  @IsIn(LOG_LEVELS, { message: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
  LOG_LEVEL: LogLevel = 'info';

  /** The incident: a leaked account whose password changed at or before this instant stays held. */
  @IsISO8601({ strict: true }, { message: 'INCIDENT_AT must be an ISO 8601 instant, e.g. 2026-05-01T00:00:00Z' })
  INCIDENT_AT = '2026-05-01T00:00:00Z';

  /**
   * How long a support override of `password_reset_required` lasts (seconds; default 72 h): long enough for the
   * waves of the reopening, short enough that a forgotten one ends by itself. Ops list and revoke them (GET /overrides).
   */
  @IntegerFrom(1, 2592000)
  SUPPORT_OVERRIDE_TTL_S = DEFAULT_OVERRIDE_TTL_S;

  /**
   * Two-person approval (docs/approvals.md): the commands that need a second ops key in this deployment, a comma list
   * of start (start or schedule), resume_after_halt, rollback, raise_rate (above APPROVAL_RATE_BOUND),
   * support_override. Empty (the default): one ops key is enough, unless a wave's own policy says otherwise.
   */
  @Matches(new RegExp(`^$|^\\s*(${APPROVAL_RULES.join('|')})\\s*(,\\s*(${APPROVAL_RULES.join('|')})\\s*)*$`), {
    message: `APPROVAL_REQUIRED_FOR must be a comma list of ${APPROVAL_RULES.join(', ')}`,
  })
  APPROVAL_REQUIRED_FOR = '';

  /** `raise_rate`: the highest rate (accounts/s) one ops key may set alone. Unset: no bound (the rule is idle). */
  @IsOptional()
  @Transform(toNumber)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'APPROVAL_RATE_BOUND must be a number' })
  @Min(0.1)
  APPROVAL_RATE_BOUND?: number;

  /** How long a request waits for its approval, and an approval for its command (seconds; default 1 h). */
  @IntegerFrom(1, 604800)
  APPROVAL_TTL_S = 3600;

  /** Wave pumps one worker process runs at once (each is one batch in flight). */
  @IntegerFrom(1, 256)
  WORKER_CONCURRENCY = 32;

  /** How often each worker reconciles the queue with PostgreSQL (schedules, pumps, operations). */
  @IntegerFrom(200, 600000)
  RECONCILE_INTERVAL_MS = 5000;

  /**
   * How often each worker reads the mailstore's capabilities again (also at once after a 429), so a lower advertised
   * rate paces the next batches and the preview sizes them as the engine will.
   */
  @IntegerFrom(1000, 3600000)
  CAPABILITIES_REFRESH_MS = 60000;

  /** How often each worker evaluates the gates of running waves. */
  @IntegerFrom(100, 60000)
  GATE_INTERVAL_MS = 1000;

  /**
   * A Prometheus-compatible HTTP API (e.g. http://prometheus:9090) for gates of metric `prometheus` (issue 19). Unset:
   * such a gate is refused when a wave is created. One address per deployment, never one per gate: a wave's plan
   * cannot make the worker call an address of its choosing. `user:password@` in it: HTTP Basic auth (prometheus-query.ts).
   */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s?#]+$/, {
    message: 'PROMETHEUS_URL must be an http(s) URL without a query, e.g. http://prometheus:9090',
  })
  PROMETHEUS_URL?: string;

  /** One Prometheus query's whole exchange; past it the measurement is an error. */
  @IntegerFrom(100, 60000)
  PROMETHEUS_TIMEOUT_MS = 5000;

  /** Mailstore request timeout (whole exchange). */
  @IntegerFrom(100, 120000)
  MAILSTORE_TIMEOUT_MS = 10000;

  /**
   * How long a claimed batch stays a worker's without news before another worker may take it over. At least the
   * request timeout plus 5 s (LEASE_MARGIN_MS): the lease must outlast one attempt and its settle.
   */
  @AtLeast<EnvironmentDto>('MAILSTORE_TIMEOUT_MS', LEASE_MARGIN_MS, 'a lease must outlast one mailstore attempt')
  @IntegerFrom(1000, 600000)
  BATCH_LEASE_MS = 15000;

  /**
   * The send window: a batch's call starts within this long of its send permit, or not at all (the attempt is
   * withdrawn). Every command that stops sending (pause, cancel, hold, an import that changes accounts) waits this long
   * after its commit for calls already permitted, so it bounds how long they take to answer. At least 100 ms: the
   * sender keeps 50 ms of it for the request's way to the mailstore (libs/core's batch-sender.ts, SEND_MARGIN_MS).
   */
  @Transform(toNumber)
  @Min(100)
  @Max(1000)
  @IsInt({ message: 'BATCH_SEND_WINDOW_MS must be an integer' })
  BATCH_SEND_WINDOW_MS = 200;

  /** Retryable failures in a row (5xx, timeouts, resets) of one batch before its wave pauses as mailstore_unreachable. */
  @Transform(toNumber)
  @Min(1)
  @Max(100)
  @IsInt({ message: 'BATCH_MAX_CONSECUTIVE_FAILURES must be an integer' })
  BATCH_MAX_CONSECUTIVE_FAILURES = 5;

  /** The wait after a batch's first retryable failure; it doubles with each one after (full jitter). */
  @Transform(toNumber)
  @Min(10)
  @Max(60000)
  @IsInt({ message: 'BATCH_RETRY_BASE_MS must be an integer' })
  BATCH_RETRY_BASE_MS = 500;

  /** The longest wait between two attempts of a batch after retryable failures. */
  @AtLeast<EnvironmentDto>('BATCH_RETRY_BASE_MS', 0, 'the longest wait cannot be shorter than the first')
  @Transform(toNumber)
  @Min(10)
  @Max(600000)
  @IsInt({ message: 'BATCH_RETRY_MAX_MS must be an integer' })
  BATCH_RETRY_MAX_MS = 8000;

  /**
   * The pace after 429/503 answers halves (once per Retry-After episode), never below this share of the set rate.
   * 1: never slowed down (only the Retry-After wait).
   */
  @Transform(toNumber)
  @Min(0.01)
  @Max(1)
  @IsNumber({}, { message: 'PACE_MIN_FACTOR must be a number' })
  PACE_MIN_FACTOR: number = DEFAULT_PACE.minFactor;

  /** Each successful call gives back this share of the set rate, until the full pace (at most once per 200 ms). */
  @Transform(toNumber)
  @Min(0.001)
  @Max(1)
  @IsNumber({}, { message: 'PACE_RECOVERY_STEP must be a number' })
  PACE_RECOVERY_STEP: number = DEFAULT_PACE.recoveryStep;

  /** Support operations (enable, disable, rollback of one account) one worker process runs at once. */
  @Transform(toNumber)
  @Min(1)
  @Max(64)
  @IsInt({ message: 'SUPPORT_CONCURRENCY must be an integer' })
  SUPPORT_CONCURRENCY = 8;

  /**
   * The worker's health listener (GET /health/live, GET /health/ready: PostgreSQL, Redis and its queue consumers), for
   * container healthchecks and Kubernetes probes. Unset: the worker listens on no port (several workers on one host,
   * as the tests and the demo run them, need no port each). 0 picks a free port, printed in the "worker ready" line.
   */
  @IsOptional()
  @Transform(toNumber)
  @Min(0)
  @Max(65535)
  @IsInt({ message: 'WORKER_HEALTH_PORT must be an integer' }) // last: checked first, so 'x' is named as not a number
  WORKER_HEALTH_PORT: number | undefined = undefined;

  /**
   * Tracing (docs/observability.md): OpenTelemetry's standard variables, checked here so a typo fails at boot. Off
   * unless OTEL_TRACES_EXPORTER is `otlp` or an OTLP endpoint is set (libs/tracing's tracingEnabled); spans go over
   * OTLP/HTTP (JSON) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. The exporter
   * reads the others itself (OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*, OTEL_TRACES_SAMPLER…).
   */
  @IsOptional()
  @IsIn(['otlp', 'none'], { message: 'OTEL_TRACES_EXPORTER must be otlp or none (this service exports OTLP only)' })
  OTEL_TRACES_EXPORTER?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  @IsOptional()
  @Matches(/^https?:\/\/[^\s]+$/, { message: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;

  @IsOptional()
  @IsIn(['true', 'false', 'TRUE', 'FALSE'], { message: 'OTEL_SDK_DISABLED must be true or false' })
  OTEL_SDK_DISABLED?: string;

  /** The spans' service.name; default reopen-api or reopen-worker. */
  @IsOptional()
  @Matches(/^\S{1,128}$/, { message: 'OTEL_SERVICE_NAME must be 1-128 characters without spaces' })
  OTEL_SERVICE_NAME?: string;

  /**
   * The status page's address as readers of the notifications reach it (issue 20): the links in Slack, Mattermost,
   * Teams and JSON bodies. Unset: http://127.0.0.1:<PORT>/ (right for a laptop, wrong behind a proxy).
   */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s?#]+$/, {
    message: 'PUBLIC_URL must be an http(s) URL without a query, e.g. https://reopen.example',
  })
  PUBLIC_URL?: string;

  /** How often each worker looks for notifications due (it also goes on at once while a batch was full). */
  @IntegerFrom(50, 60000)
  NOTIFY_POLL_MS = 1000;

  /** Deliveries one worker claims per statement and posts at once. */
  @IntegerFrom(1, 1000)
  NOTIFY_BATCH_SIZE = 100;

  /** One notification POST's whole exchange; past it the attempt failed and is retried. */
  @IntegerFrom(100, 120000)
  NOTIFY_TIMEOUT_MS = 10000;

  /**
   * A claimed delivery's lease: a worker that dies (SIGKILL) holds its deliveries this long, then another sends them.
   * Must exceed NOTIFY_TIMEOUT_MS, so a live worker always settles its own before anyone may take them over.
   */
  @IntegerFrom(200, 600000)
  NOTIFY_LEASE_MS = 30000;

  /** The first retry's wait after a failed delivery; doubled each attempt up to NOTIFY_BACKOFF_MAX_MS. */
  @IntegerFrom(10, 600000)
  NOTIFY_BACKOFF_BASE_MS = 1000;

  /** The longest wait between two attempts of one delivery (a 429's Retry-After too). */
  @IntegerFrom(10, 3600000)
  NOTIFY_BACKOFF_MAX_MS = 300000;

  /**
   * How long a notification is retried, from its event (or its redelivery by ops), before it is given up: it ends
   * `failed` with its last error, and the next events of its wave go on to that subscription. Default one day.
   */
  @Transform(toNumber)
  @Min(1)
  @Max(2592000)
  @IsInt({ message: 'NOTIFY_GIVE_UP_AFTER_S must be an integer' }) // last: checked first, so 'x' is named as not a number
  NOTIFY_GIVE_UP_AFTER_S = 86400;

  /**
   * The receivers notifications may be posted to, comma separated: host names, `*.domain` (every name under it),
   * addresses and CIDR ranges, e.g. `hooks.slack.com,*.chat.example,10.20.0.0/16`. Unset: any host but link-local,
   * metadata and the like (docs/notifications.md). Set it in production: an ops key then cannot make the worker post
   * to an internal service. Read by the API (a subscription elsewhere is refused) and the worker (never posted).
   */
  @IsOptional()
  @ValidateBy({
    name: 'isTargetAllowList',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && typeof parseTargetAllowList(value) !== 'string',
      defaultMessage: (args) => {
        const parsed = parseTargetAllowList(String(args?.value));
        return `NOTIFY_ALLOWED_HOSTS: ${typeof parsed === 'string' ? parsed : 'not valid'}`;
      },
    },
  })
  NOTIFY_ALLOWED_HOSTS?: string;

  /** At most this many attempts per notification before it is given up; 0 (default): the time bound alone. */
  @Transform(toNumber)
  @Min(0)
  @Max(100000)
  @IsInt({ message: 'NOTIFY_MAX_ATTEMPTS must be an integer' }) // last: checked first, so 'x' is named as not a number
  NOTIFY_MAX_ATTEMPTS = 0;

  /** Port of the mailstore simulator (apps/mailstore-sim) when it is started. */
  @IsOptional()
  @IntegerFrom(0, 65535)
  SIM_PORT = 8025;
}
