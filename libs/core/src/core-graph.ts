import type Redis from 'ioredis';
import { DataSource } from 'typeorm';
import { EnvironmentDto } from '@app/config';
import { Clock, parseApprovalRules, parseTargetAllowList, systemClock, type TargetAllowList } from '@app/domain';
import { openRuntimeDataSource } from '@app/db';
import { createDriverMailstore, Mailstore } from '@app/mailstore';
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
  /** The gates' dry run (GateEvaluator.check): what they would say now, acting on nothing. */
  gateCheck: GateEvaluator;
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
    gateCheck: new GateEvaluator(dataSource, commands, {
      url: config.PROMETHEUS_URL,
      timeoutMs: config.PROMETHEUS_TIMEOUT_MS,
    }),
    approvals: new ApprovalService(dataSource, gate, (sql, row) =>
      row.command === 'support_override' ? operations.approvalSubject(sql, row) : commands.approvalSubject(sql, row),
    ),
    waves: new WaveQueryService(dataSource, incidentAt),
    operations,
    overrides: new OverrideService(dataSource),
    imports: new AccountImportService(dataSource, incidentAt),
    apiKeys: new ApiKeyService(dataSource),
    audit: new AuditQueryService(dataSource),
    signals: new SignalService(dataSource),
    progress: new ProgressService(
      dataSource,
      undefined,
      undefined,
      redis ? new PaceRepository(redis, config.REDIS_PREFIX) : undefined,
    ),
    notifications: new NotificationService(dataSource, allowedTargetsOf(config)),
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
    allowedTargets: allowedTargetsOf(config),
  };
}

/** NOTIFY_ALLOWED_HOSTS, parsed (validated with the environment: a problem here cannot happen). */
function allowedTargetsOf(config: EnvironmentDto): TargetAllowList | undefined {
  if (config.NOTIFY_ALLOWED_HOSTS === undefined) return undefined;
  const allowed = parseTargetAllowList(config.NOTIFY_ALLOWED_HOSTS);
  if (typeof allowed === 'string') throw new Error(`NOTIFY_ALLOWED_HOSTS passed validation: ${allowed}`);
  return allowed;
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
 * The mailstore, by MAILSTORE_DRIVER (docs/drivers.md; libs/mailstore drivers/registry.ts), from its variables in the
 * environment the configuration was read from: for the worker, a connection per pump, and a few for the support lane
 * and the verifier (the default); the API asks for fewer (its health probe). A driver whose settings do not fit (a
 * missing one, a table name that is not an identifier …) refuses to start naming the variable.
 */
export function createMailstore(config: EnvironmentDto, connections = config.WORKER_CONCURRENCY + 4): Mailstore {
  return createDriverMailstore(config.MAILSTORE_DRIVER, config.environment, {
    connections,
    timeoutMs: config.MAILSTORE_TIMEOUT_MS,
  });
}
