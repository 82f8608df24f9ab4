import type { Counters, Endpoint } from './sim.types';

/** Item totals of one executed write. */
export interface ItemTally {
  applied: number;
  unchanged: number;
  failed: number;
  revoked: number;
}

export type InjectedFault = keyof Counters['faults'];

/** Running totals behind GET /_sim/counters. Plain numbers: one increment per event, no per-call objects. */
export class SimCounters {
  private requests = new Map<Endpoint, Map<number, number>>();
  accountUpdates = 0;
  applied = 0;
  unchanged = 0;
  itemFailures = 0;
  rateLimited = 0;
  replayed = 0;
  sessionsRevoked = 0;
  private faults = emptyFaults();

  /** One finished /v1 request; status 0 when nothing was sent. */
  request(endpoint: Endpoint, status: number): void {
    let byStatus = this.requests.get(endpoint);
    if (!byStatus) this.requests.set(endpoint, (byStatus = new Map<number, number>()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  executed(cost: number, tally: ItemTally): void {
    this.accountUpdates += cost;
    this.applied += tally.applied;
    this.unchanged += tally.unchanged;
    this.itemFailures += tally.failed;
    this.sessionsRevoked += tally.revoked;
  }

  fault(kind: InjectedFault): void {
    this.faults[kind]++;
  }

  snapshot(): Counters {
    const requests: Counters['requests'] = {};
    for (const [endpoint, byStatus] of this.requests) {
      requests[endpoint] = Object.fromEntries([...byStatus].map(([status, n]) => [String(status), n]));
    }
    return {
      requests,
      accountUpdates: this.accountUpdates,
      applied: this.applied,
      unchanged: this.unchanged,
      itemFailures: this.itemFailures,
      rateLimited: this.rateLimited,
      replayed: this.replayed,
      sessionsRevoked: this.sessionsRevoked,
      faults: { ...this.faults },
    };
  }

  reset(): void {
    this.requests = new Map();
    this.accountUpdates = this.applied = this.unchanged = this.itemFailures = 0;
    this.rateLimited = this.replayed = this.sessionsRevoked = 0;
    this.faults = emptyFaults();
  }
}

function emptyFaults(): Counters['faults'] {
  return { '429': 0, '503': 0, '500': 0, hang: 0, drop_after_apply: 0, unreachable: 0 };
}
