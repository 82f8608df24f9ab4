import { AccountStore } from './account-store';
import { CallLog } from './call-log';
import { SimCounters } from './counters';
import { FaultInjector } from './faults';
import { IdempotencyStore } from './idempotency-store';
import { DEFAULT_RATE_LIMITS, RateLimiter, validateRateLimits } from './rate-limiter';
import {
  SCOPES,
  type FaultConfig,
  type Propagation,
  type RateLimits,
  type Scope,
  type SimulatorOptions,
} from './sim.types';

export const DEFAULT_TOKEN = 'sim-token';
const DEFAULT_MAX_BATCH_ITEMS = 500;
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
export const DEFAULT_CALL_LOG_CAPACITY = 2_000_000;
const DEFAULT_PROPAGATION: Propagation = { mode: 'immediate', maxSeconds: 0 };

/** Fixed at start: what the simulator promises in capabilities and how strict it is. */
export interface SimSettings {
  tokens: ReadonlyMap<string, ReadonlySet<Scope>>;
  maxBatchItems: number;
  revokeSessions: boolean;
  conditionalUpdates: boolean;
  propagation: Propagation;
  requireIdempotencyKeyForBatch: boolean;
  /** The faults configured at start (a reset clears faults entirely, it does not return to these). */
  initialFaults: FaultConfig;
}

/** Everything a request can touch. Single-threaded: each request's synchronous part runs alone. */
export class SimState {
  readonly idempotency: IdempotencyStore;
  /** Replaced by setRateLimits (a mailstore that announces other limits at runtime). */
  limiter: RateLimiter;
  readonly faults: FaultInjector;
  readonly callLog: CallLog;
  readonly counters = new SimCounters();
  /** GET /v1/capabilities, rendered again only when the rate limits change (setRateLimits). */
  capabilitiesJson = '';

  constructor(
    /** Replaced by a reseeding reset; requests in flight keep the store they started with. */
    public store: AccountStore,
    readonly settings: SimSettings,
    rateLimits: SimulatorOptions['rateLimits'],
    idempotencyTtlSeconds: number,
    callLogCapacity: number,
  ) {
    this.idempotency = new IdempotencyStore(idempotencyTtlSeconds);
    this.limiter = new RateLimiter('none');
    this.setRateLimits(rateLimits === 'none' ? 'none' : validateRateLimits(rateLimits ?? DEFAULT_RATE_LIMITS));
    this.faults = new FaultInjector(settings.initialFaults);
    this.callLog = new CallLog(callLogCapacity);
  }

  /**
   * New limits from now on (checked by the caller): the budgets start full under them and capabilities advertise
   * them, as a mailstore that lowers its rate at runtime would. A reset keeps them.
   */
  setRateLimits(limits: RateLimits | 'none'): void {
    this.limiter = new RateLimiter(limits);
    this.capabilitiesJson = JSON.stringify({
      protocols: ['imap', 'pop3'],
      maxBatchItems: this.settings.maxBatchItems,
      revokeSessions: this.settings.revokeSessions,
      conditionalUpdates: this.settings.conditionalUpdates,
      idempotencyKeyTtlSeconds: this.idempotency.ttlSeconds,
      propagation: this.settings.propagation,
      rateLimits: this.limiter.advertised,
    });
  }

  /** Call log, counters, idempotency keys, rate budgets and faults start over; accounts unless `store`. */
  reset(store?: AccountStore): void {
    this.callLog.clear();
    this.counters.reset();
    this.idempotency.clear();
    this.limiter.reset();
    this.faults.set({});
    if (store) this.store = store;
  }
}

/** Settings from options, checked: a simulator that starts with a nonsense setting misleads every test. */
export function settingsFrom(options: SimulatorOptions): SimSettings {
  const maxBatchItems = options.maxBatchItems ?? DEFAULT_MAX_BATCH_ITEMS;
  if (!Number.isSafeInteger(maxBatchItems) || maxBatchItems < 1) throw new Error('maxBatchItems must be >= 1');
  return {
    tokens: tokensFrom(options.tokens ?? { [DEFAULT_TOKEN]: [...SCOPES] }),
    maxBatchItems,
    revokeSessions: options.revokeSessions ?? true,
    conditionalUpdates: options.conditionalUpdates ?? true,
    propagation: validatePropagation(options.propagation ?? DEFAULT_PROPAGATION),
    requireIdempotencyKeyForBatch: options.requireIdempotencyKeyForBatch ?? true,
    initialFaults: options.faults ?? {},
  };
}

/** capabilities.propagation, checked. */
export function validatePropagation(value: unknown): Propagation {
  const p = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const { mode, maxSeconds } = p;
  if ((mode !== 'immediate' && mode !== 'eventual') || typeof maxSeconds !== 'number' || !(maxSeconds >= 0)) {
    throw new Error('propagation must be {"mode":"immediate"|"eventual","maxSeconds":<non-negative number>}');
  }
  return { mode, maxSeconds };
}

/** token -> scopes, checked: visible ASCII tokens, known scopes only. */
export function tokensFrom(tokens: unknown): Map<string, Set<Scope>> {
  if (typeof tokens !== 'object' || tokens === null || Array.isArray(tokens)) {
    throw new Error('tokens must be an object {"token":["access:read",...]}');
  }
  const out = new Map<string, Set<Scope>>();
  for (const [token, scopes] of Object.entries(tokens as Record<string, unknown>)) {
    if (!/^[\x21-\x7e]+$/.test(token)) throw new Error('tokens must be non-empty visible ASCII');
    if (!Array.isArray(scopes)) throw new Error(`scopes of token "${token}" must be a list`);
    const bad: unknown = scopes.find((s) => !(SCOPES as readonly unknown[]).includes(s));
    if (bad !== undefined) throw new Error(`unknown scope ${JSON.stringify(bad)} (known: ${SCOPES.join(', ')})`);
    out.set(token, new Set(scopes as Scope[]));
  }
  return out;
}
