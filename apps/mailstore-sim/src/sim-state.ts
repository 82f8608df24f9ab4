import { AccountStore } from './account-store';
import { CallLog } from './call-log';
import { SimCounters } from './counters';
import { FaultInjector } from './faults';
import { IdempotencyStore } from './idempotency-store';
import { DEFAULT_RATE_LIMITS, RateLimiter, validateRateLimits } from './rate-limiter';
import { SCOPES, type FaultConfig, type Propagation, type Scope, type SimulatorOptions } from './sim.types';

export const DEFAULT_TOKEN = 'sim-token';
export const DEFAULT_MAX_BATCH_ITEMS = 500;
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;
export const DEFAULT_CALL_LOG_CAPACITY = 2_000_000;
export const DEFAULT_PROPAGATION: Propagation = { mode: 'immediate', maxSeconds: 0 };

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
  readonly limiter: RateLimiter;
  readonly faults: FaultInjector;
  readonly callLog: CallLog;
  readonly counters = new SimCounters();
  /** GET /v1/capabilities, rendered once: nothing in it changes while the simulator runs. */
  readonly capabilitiesJson: string;

  constructor(
    /** Replaced by a reseeding reset; requests in flight keep the store they started with. */
    public store: AccountStore,
    readonly settings: SimSettings,
    rateLimits: SimulatorOptions['rateLimits'],
    idempotencyTtlSeconds: number,
    callLogCapacity: number,
  ) {
    this.idempotency = new IdempotencyStore(idempotencyTtlSeconds);
    this.limiter = new RateLimiter(
      rateLimits === 'none' ? 'none' : validateRateLimits(rateLimits ?? DEFAULT_RATE_LIMITS),
    );
    this.faults = new FaultInjector(settings.initialFaults);
    this.callLog = new CallLog(callLogCapacity);
    this.capabilitiesJson = JSON.stringify({
      protocols: ['imap', 'pop3'],
      maxBatchItems: settings.maxBatchItems,
      revokeSessions: settings.revokeSessions,
      conditionalUpdates: settings.conditionalUpdates,
      idempotencyKeyTtlSeconds: idempotencyTtlSeconds,
      propagation: settings.propagation,
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
  const propagation = options.propagation ?? DEFAULT_PROPAGATION;
  if (
    (propagation.mode !== 'immediate' && propagation.mode !== 'eventual') ||
    typeof propagation.maxSeconds !== 'number' ||
    !(propagation.maxSeconds >= 0)
  ) {
    throw new Error('propagation must be {"mode":"immediate"|"eventual","maxSeconds":<non-negative number>}');
  }
  return {
    tokens: tokensFrom(options.tokens ?? { [DEFAULT_TOKEN]: [...SCOPES] }),
    maxBatchItems,
    revokeSessions: options.revokeSessions ?? true,
    conditionalUpdates: options.conditionalUpdates ?? true,
    propagation: { mode: propagation.mode, maxSeconds: propagation.maxSeconds },
    requireIdempotencyKeyForBatch: options.requireIdempotencyKeyForBatch ?? true,
    initialFaults: options.faults ?? {},
  };
}

function tokensFrom(tokens: Record<string, string[]>): Map<string, Set<Scope>> {
  const out = new Map<string, Set<Scope>>();
  for (const [token, scopes] of Object.entries(tokens)) {
    if (!/^[\x21-\x7e]+$/.test(token)) throw new Error('tokens must be non-empty visible ASCII');
    if (!Array.isArray(scopes)) throw new Error(`scopes of token "${token}" must be a list`);
    const bad = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
    if (bad !== undefined) throw new Error(`unknown scope "${bad}" (known: ${SCOPES.join(', ')})`);
    out.set(token, new Set(scopes as Scope[]));
  }
  return out;
}
