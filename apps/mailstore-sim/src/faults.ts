import { validateFaultConfig } from './fault-config';
import type { Endpoint, FaultConfig, FaultEndpoint, FaultKind } from './sim.types';

/** Probabilistic faults and the script apply to these unless FaultConfig.endpoints says otherwise. */
const DEFAULT_FAULT_ENDPOINTS: readonly FaultEndpoint[] = ['batch', 'patch', 'get', 'sessions'];
const DEFAULT_RETRY_AFTER_SECONDS = 1;
export const DEFAULT_HANG_MS = 60_000;

/** mulberry32: small, fast, and the same sequence for the same seed (deterministic fault tests). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Decides which fault, if any, each /v1 request meets. Order of a decision: the endpoint must be
 * eligible; then the next script entry if any is left; then one uniform draw against the cumulative
 * rates (429, 503, 500, hang, drop_after_apply). A request that is not eligible consumes nothing.
 */
export class FaultInjector {
  private config: FaultConfig = {};
  private script: FaultKind[] = [];
  private random: () => number = Math.random;
  private eligible = new Set<Endpoint>(DEFAULT_FAULT_ENDPOINTS);
  private notFound = new Set<string>();
  private conflict = new Set<string>();
  /** Cumulative thresholds of the rates, in FaultKind order. */
  private thresholds: [FaultKind, number][] = [];
  /** False when nothing probabilistic or scripted is configured: the hot path skips everything. */
  private active = false;

  constructor(config: FaultConfig = {}) {
    this.set(config);
  }

  /** Replaces the whole configuration: the script restarts and the PRNG is reseeded. */
  set(config: FaultConfig): void {
    const c = validateFaultConfig(config);
    this.config = c;
    this.script = [...(c.script ?? [])];
    this.random = seededRandom(c.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.eligible = new Set<Endpoint>(c.endpoints ?? DEFAULT_FAULT_ENDPOINTS);
    this.notFound = new Set(c.notFoundAccounts ?? []);
    this.conflict = new Set(c.conflictAccounts ?? []);
    let sum = 0;
    this.thresholds = (
      [
        ['429', c.rate429],
        ['503', c.rate503],
        ['500', c.rate500],
        ['hang', c.rateHang],
        ['drop_after_apply', c.rateDropAfterApply],
      ] as [FaultKind, number | undefined][]
    )
      .filter(([, rate]) => (rate ?? 0) > 0)
      .map(([kind, rate]) => [kind, (sum += rate ?? 0)]);
    this.active =
      this.script.length > 0 || this.thresholds.length > 0 || (c.latencyMs ?? 0) + (c.latencyJitterMs ?? 0) > 0;
  }

  /** The configuration in force, with `script` holding only the entries not yet consumed. */
  current(): FaultConfig {
    const { script: _consumed, ...rest } = this.config;
    return this.script.length > 0 ? { ...rest, script: [...this.script] } : rest;
  }

  pick(endpoint: Endpoint): FaultKind {
    if (!this.active || !this.eligible.has(endpoint)) return 'ok';
    const scripted = this.script.shift();
    if (scripted !== undefined) return scripted;
    if (this.thresholds.length === 0) return 'ok';
    const draw = this.random();
    for (const [kind, upTo] of this.thresholds) if (draw < upTo) return kind;
    return 'ok';
  }

  /** Latency to add before answering this request (0 for endpoints faults do not apply to). */
  latencyMs(endpoint: Endpoint): number {
    if (!this.active || !this.eligible.has(endpoint)) return 0;
    const jitter = this.config.latencyJitterMs ?? 0;
    return (this.config.latencyMs ?? 0) + (jitter > 0 ? Math.floor(this.random() * (jitter + 1)) : 0);
  }

  get unreachable(): boolean {
    return this.config.unreachable === true;
  }

  get retryAfterSeconds(): number {
    return this.config.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS;
  }

  get hangMs(): number {
    return this.config.hangMs ?? DEFAULT_HANG_MS;
  }

  /** Accounts the configuration pretends the mailstore does not know. */
  isNotFound(account: string): boolean {
    return this.notFound.size > 0 && this.notFound.has(account);
  }

  /** Accounts whose conditional writes always conflict (someone else keeps changing them). */
  isConflict(account: string): boolean {
    return this.conflict.size > 0 && this.conflict.has(account);
  }
}
