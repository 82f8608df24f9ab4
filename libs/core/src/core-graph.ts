import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { ConfigError, EnvironmentDto } from '@app/config';
import { assertNever, Clock, parseApprovalRules, systemClock } from '@app/domain';
import { openRuntimeDataSource } from '@app/db';
import {
  DovecotSqlMailstore,
  DriverOptionsError,
  FlagLayout,
  ldapDriver,
  type LdapMailstoreOptions,
  Mailstore,
  MailstoreClient,
} from '@app/mailstore';
import { openOrSayUnreachable, QueueProducer, WavePumpJob } from '@app/queue';
import { AccountImportService } from './accounts';
import { ApprovalGate } from './approvals/approval-gate';
import { ApprovalService } from './approvals/approval.service';
import { AuditQueryService } from './audit';
import { ApiKeyService } from './auth';
import { EngineMetrics, NO_ENGINE_METRICS } from './engine/engine-metrics';
import { CapabilitiesWatch } from './engine/capabilities-watch';
import { engineSettings, paceSettings } from './engine/engine-settings';
import { PumpContext, pumpRepositories } from './engine/pump-context';
import { Reconciler } from './engine/reconciler';
import { Throttle } from './engine/throttle';
import { WavePump } from './engine/wave-pump';
import { WaveVerifier } from './engine/wave-verifier';
import { GateEvaluator } from './gates/gate-evaluator';
import { DispatcherSettings, NotificationDispatcher, NotificationService } from './notifications';
import { LOGIN_INGEST_DEFAULTS, LoginIngestService, LoginReaction, recloseThroughSupport } from './logins';
import { PaceRepository, ProgressService } from './progress';
import { SignalService } from './signals';
import { OperationRunner } from './support/operation-runner';
import { OperationService } from './support/operation.service';
import { OverrideService } from './support/override.service';
import { WaveCommandsService } from './waves/wave-commands.service';
import { WaveQueryService } from './waves/wave-query.service';

// The object graph of libs/core, built in one place from the connections and the validated environment. CoreModule
// registers these objects as Nest providers for the API and the worker; the test harness and the benches call the
// same functions on the connections they already hold (no Nest container to boot per test file, no second pool).

/** The services the API calls and the worker's engine commands through. */
export interface CoreServices {
  commands: WaveCommandsService;
  waves: WaveQueryService;
  operations: OperationService;
  overrides: OverrideService;
  imports: AccountImportService;
  apiKeys: ApiKeyService;
  audit: AuditQueryService;
  signals: SignalService;
  progress: ProgressService;
  logins: LoginIngestService;
  notifications: NotificationService;
  approvals: ApprovalService;
}

export function buildCoreServices(
  dataSource: DataSource,
  producer: QueueProducer,
  config: EnvironmentDto,
  /** The clock time windows are judged on (the engine's seam: the commands, the pumps and the reconciler use it). */
  clock: Clock = systemClock,
  /** The queues' Redis, where the engine keeps its shared pace: progress reads it to say why a wave is slow. */
  redis?: Redis,
): CoreServices {
  const incidentAt = new Date(config.INCIDENT_AT);
  const gate = new ApprovalGate({
    deployment: {
      require: parseApprovalRules(config.APPROVAL_REQUIRED_FOR).rules,
      rateBound: config.APPROVAL_RATE_BOUND ?? null,
    },
    ttlSeconds: config.APPROVAL_TTL_S,
  });
  const operations = new OperationService(dataSource, producer, incidentAt, {
    overrideTtlMs: config.SUPPORT_OVERRIDE_TTL_S * 1000,
    approvals: gate,
  });
  const commands = new WaveCommandsService(
    dataSource,
    producer,
    { prometheus: config.PROMETHEUS_URL !== undefined },
    clock,
    { gate, incidentAt },
  );
  return {
    commands,
    approvals: new ApprovalService(dataSource, gate, (sql, row) =>
      row.command === 'support_override' ? operations.approvalSubject(sql, row) : commands.approvalSubject(sql, row),
    ),
    waves: new WaveQueryService(dataSource, incidentAt),
    operations,
    overrides: new OverrideService(dataSource),
    imports: new AccountImportService(dataSource),
    apiKeys: new ApiKeyService(dataSource),
    audit: new AuditQueryService(dataSource),
    signals: new SignalService(dataSource),
    progress: new ProgressService(
      dataSource,
      undefined,
      undefined,
      redis ? new PaceRepository(redis, config.REDIS_PREFIX) : undefined,
    ),
    notifications: new NotificationService(dataSource),
    logins: new LoginIngestService(
      dataSource,
      undefined,
      undefined,
      new LoginReaction(dataSource, (c) => recloseThroughSupport(operations, c), LOGIN_INGEST_DEFAULTS.maxBufferedRows),
    ),
  };
}

/** The wave engine, which only the worker runs: the shared pace, the pumps, the support runner and the timers' rounds. */
export interface Engine {
  throttle: Throttle;
  /** The mailstore's capabilities, read again by the worker's timer and after a 429, recorded for the preview. */
  capabilities: CapabilitiesWatch;
  verifier: WaveVerifier;
  reconciler: Reconciler;
  gates: GateEvaluator;
  operations: OperationRunner;
  /** The notifications' delivery (issue 20): the worker's timer drains it. */
  notifications: NotificationDispatcher;
  /** One concurrency slot of a wave, for one pump job (see WavePump). */
  pump(job: WavePumpJob, jobId: string, signal: AbortSignal): WavePump;
}

export interface EngineConnections {
  dataSource: DataSource;
  producer: QueueProducer;
  /** The worker's Redis (createRedis): the shared pace lives there. */
  redis: Redis;
  client: Mailstore;
}

export function buildEngine(
  c: EngineConnections,
  commands: WaveCommandsService,
  config: EnvironmentDto,
  /** What the engine reports as it runs (the worker's /metrics). */
  metrics: EngineMetrics = NO_ENGINE_METRICS,
): Engine {
  const settings = engineSettings(config);
  const throttle = new Throttle(c.redis, config.REDIS_PREFIX, paceSettings(config));
  const verifier = new WaveVerifier(c.dataSource, c.client, commands);
  const capabilities = new CapabilitiesWatch(c.dataSource, c.client);
  const pumps: PumpContext = {
    dataSource: c.dataSource,
    client: c.client,
    capabilities,
    throttle,
    commands,
    verifier,
    settings,
    repos: pumpRepositories(),
    metrics,
  };
  return {
    throttle,
    capabilities,
    verifier,
    reconciler: new Reconciler(c.dataSource, c.producer, commands, verifier),
    gates: new GateEvaluator(c.dataSource, commands, {
      url: config.PROMETHEUS_URL,
      timeoutMs: config.PROMETHEUS_TIMEOUT_MS,
    }),
    operations: new OperationRunner(c.dataSource, c.client, throttle, metrics, capabilities),
    notifications: new NotificationDispatcher(c.dataSource, dispatcherSettings(config), metrics),
    pump: (job, jobId, signal) => new WavePump(pumps, job, jobId, signal),
  };
}

/** The notifications' delivery settings from the environment (PUBLIC_URL, NOTIFY_*). */
export function dispatcherSettings(config: EnvironmentDto): DispatcherSettings {
  return {
    publicUrl: config.PUBLIC_URL ?? `http://127.0.0.1:${config.PORT}/`,
    batchSize: config.NOTIFY_BATCH_SIZE,
    timeoutMs: config.NOTIFY_TIMEOUT_MS,
    leaseMs: Math.max(config.NOTIFY_LEASE_MS, config.NOTIFY_TIMEOUT_MS + 1000),
    backoff: { baseMs: config.NOTIFY_BACKOFF_BASE_MS, maxMs: config.NOTIFY_BACKOFF_MAX_MS },
    giveUp: { afterMs: config.NOTIFY_GIVE_UP_AFTER_S * 1000, maxAttempts: config.NOTIFY_MAX_ATTEMPTS },
  };
}

/** Which process the graph is for: the API holds producers only (style.md); the worker runs the engine as well. */
export type CoreRole = 'api' | 'worker';

/**
 * The process's PostgreSQL pool, as the runtime role (refused when that role could alter the audit log). A process
 * frozen or cut off mid-command must not hold a wave's lock against the others for long: the worker's transactions are
 * short (the hot path runs single statements, system commands a few) and a frozen worker must not keep a command
 * waiting for more than 750 ms (issue 14); the API's import streams inside its transaction but is never idle in it for
 * seconds. The worker needs a connection per pump (each holds one for its whole run); its support operations, timers
 * and probe share the rest.
 */
export function openCoreDataSource(config: EnvironmentDto, role: CoreRole): Promise<DataSource> {
  return openOrSayUnreachable('postgres', 'DATABASE_URL', () =>
    openRuntimeDataSource(
      role === 'api'
        ? { url: config.DATABASE_URL, applicationName: 'reopen-api', idleInTransactionTimeoutMs: 5000 }
        : {
            url: config.DATABASE_URL,
            applicationName: 'reopen-worker',
            // + 1: the notifications' claim and settle (short statements, one at a time).
            poolSize: config.WORKER_CONCURRENCY + config.SUPPORT_CONCURRENCY + 1,
            idleInTransactionTimeoutMs: 750,
          },
    ),
  );
}

/**
 * The mailstore, by MAILSTORE_DRIVER (docs/drivers.md): for the worker, a connection per pump, and a few for the
 * support lane and the verifier (the default); the API asks for fewer (its health probe). A driver whose settings do not fit (a table name that is not an identifier …) refuses to start
 * naming the variable (each driver's variables are validated at boot: libs/config).
 */
export function createMailstore(config: EnvironmentDto, connections = config.WORKER_CONCURRENCY + 4): Mailstore {
  switch (config.MAILSTORE_DRIVER) {
    case 'http':
      return new MailstoreClient({
        baseUrl: config.MAILSTORE_URL,
        token: config.MAILSTORE_TOKEN,
        requestTimeoutMs: config.MAILSTORE_TIMEOUT_MS,
        connections,
      });
    case 'dovecot-sql':
      return dovecotSqlMailstore(config, connections);
    case 'ldap':
      return new (ldapDriver().LdapMailstore)(ldapMailstoreOptions(config));
    default:
      return assertNever(config.MAILSTORE_DRIVER, 'MAILSTORE_DRIVER');
  }
}

/** The dovecot-sql driver's option names, as the variables that set them. */
const DOVECOT_SQL_VARIABLES: Record<string, string> = {
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

function dovecotSqlMailstore(config: EnvironmentDto, connections: number): Mailstore {
  const required = (name: 'DOVECOT_SQL_URL' | 'DOVECOT_SQL_TABLE' | 'DOVECOT_SQL_LOGIN_COLUMN') => {
    const value = config[name];
    if (value === undefined) throw new ConfigError([`${name} is required with MAILSTORE_DRIVER=dovecot-sql`]);
    return value;
  };
  const flags: FlagLayout =
    config.DOVECOT_SQL_PROTOCOLS_COLUMN !== undefined
      ? { kind: 'list', column: config.DOVECOT_SQL_PROTOCOLS_COLUMN }
      : { kind: 'columns', imap: config.DOVECOT_SQL_IMAP_COLUMN ?? '', pop3: config.DOVECOT_SQL_POP3_COLUMN ?? '' };
  const rps = config.DOVECOT_SQL_REQUESTS_PER_SECOND;
  const ups = config.DOVECOT_SQL_ACCOUNT_UPDATES_PER_SECOND;
  try {
    return new DovecotSqlMailstore({
      url: required('DOVECOT_SQL_URL'),
      table: required('DOVECOT_SQL_TABLE'),
      loginColumn: required('DOVECOT_SQL_LOGIN_COLUMN'),
      flags,
      versionColumn: config.DOVECOT_SQL_VERSION_COLUMN,
      doveadm:
        config.DOVEADM_URL === undefined
          ? undefined
          : { url: config.DOVEADM_URL, apiKey: config.DOVEADM_API_KEY ?? '', timeoutMs: config.DOVEADM_TIMEOUT_MS },
      poolSize: config.DOVECOT_SQL_POOL_SIZE ?? connections,
      timeoutMs: config.MAILSTORE_TIMEOUT_MS,
      authCacheTtlSeconds: config.DOVECOT_AUTH_CACHE_TTL_S,
      maxBatchItems: config.DOVECOT_SQL_MAX_BATCH_ITEMS,
      rateLimits: {
        requestsPerSecond: rps,
        requestBurst: Math.max(1, Math.ceil(rps * 2)),
        accountUpdatesPerSecond: ups,
        accountUpdateBurst: Math.max(1, Math.ceil(ups)),
      },
    });
  } catch (err) {
    if (!(err instanceof DriverOptionsError)) throw err;
    throw new ConfigError(err.problems.map((p) => `${DOVECOT_SQL_VARIABLES[p.option] ?? p.option} ${p.message}`));
  }
}

/** The ldap driver's options from its LDAP_* and DOVEADM_* variables, as validated at boot (libs/config ldap.env.ts). */
export function ldapMailstoreOptions(config: EnvironmentDto): LdapMailstoreOptions {
  const set = (
    name: 'LDAP_URL' | 'LDAP_BIND_DN' | 'LDAP_BIND_PASSWORD' | 'LDAP_BASE_DN' | 'LDAP_VERSION_ATTRIBUTE',
  ) => {
    const value = config[name];
    if (value === undefined) throw new ConfigError([`${name} is required with MAILSTORE_DRIVER=ldap`]);
    return value;
  };
  const c = config;
  return {
    url: set('LDAP_URL'),
    bindDn: set('LDAP_BIND_DN'),
    bindPassword: set('LDAP_BIND_PASSWORD'),
    baseDn: set('LDAP_BASE_DN'),
    loginAttribute: c.LDAP_LOGIN_ATTRIBUTE,
    filter: c.LDAP_FILTER,
    switches:
      c.LDAP_PROTOCOLS_ATTRIBUTE !== undefined
        ? {
            mode: 'list',
            attribute: c.LDAP_PROTOCOLS_ATTRIBUTE,
            values: { imap: c.LDAP_IMAP_VALUE, pop3: c.LDAP_POP3_VALUE },
          }
        : {
            mode: 'attributes',
            attributes: { imap: c.LDAP_IMAP_ATTRIBUTE ?? '', pop3: c.LDAP_POP3_ATTRIBUTE ?? '' },
            trueValue: c.LDAP_TRUE_VALUE,
            falseValue: c.LDAP_FALSE_VALUE,
          },
    versionAttribute: set('LDAP_VERSION_ATTRIBUTE'),
    poolSize: c.LDAP_POOL_SIZE,
    timeoutMs: c.LDAP_TIMEOUT_MS,
    connectTimeoutMs: c.LDAP_CONNECT_TIMEOUT_MS,
    maxBatchItems: c.LDAP_MAX_BATCH_ITEMS,
    updatesPerSecond: c.LDAP_UPDATES_PER_SECOND,
    ...(c.DOVEADM_URL === undefined
      ? {}
      : { doveadm: { url: c.DOVEADM_URL, apiKey: c.DOVEADM_API_KEY ?? '', timeoutMs: c.DOVEADM_TIMEOUT_MS } }),
  };
}
