import { Inject, Injectable } from '@nestjs/common';
import type { ApiSettings } from '@app/config';
import { API_SETTINGS } from '../infra.tokens';

interface Bucket {
  tokens: number;
  at: number;
}

/** Address groups remembered at once; the least recently seen is forgotten first (it gets a full budget back). */
const MAX_GROUPS = 50_000;

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

/**
 * What a client address may spend on requests that are not authenticated by a key this process already knows (no
 * key, an unknown or revoked key, the first look-up of a key): each may cost a database look-up, so an address
 * gets API_PREAUTH_LIMIT_PER_MINUTE of them at once and as many again each minute, refilled evenly (a token
 * bucket). A look-up that finds a valid key gives its token back. In memory, per process: checked before any I/O,
 * it costs nothing, and it bounds what an address can make one process do (N processes: N times the budget).
 *
 * Hand-written rather than rate-limiter-flexible (already a dev dependency): its memory store keeps a timer per
 * key, it cannot give a token back, and the whole of it is these few lines.
 */
@Injectable()
export class AddressBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(@Inject(API_SETTINGS) private readonly settings: ApiSettings) {}

  take(group: string, now = Date.now()): Take {
    const capacity = this.settings.API_PREAUTH_LIMIT_PER_MINUTE;
    const perMs = capacity / 60_000;
    const bucket = this.refill(group, now, capacity, perMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }

  /** A look-up that found a valid key did not cost the address anything. */
  giveBack(group: string): void {
    const bucket = this.buckets.get(group);
    if (bucket) bucket.tokens = Math.min(this.settings.API_PREAUTH_LIMIT_PER_MINUTE, bucket.tokens + 1);
  }

  private refill(group: string, now: number, capacity: number, perMs: number): Bucket {
    let bucket = this.buckets.get(group);
    if (bucket) {
      bucket.tokens = Math.min(capacity, bucket.tokens + Math.max(0, now - bucket.at) * perMs);
      this.buckets.delete(group); // re-inserted below: the Map's order is least recently seen first
    } else {
      bucket = { tokens: capacity, at: now };
      if (this.buckets.size >= MAX_GROUPS) this.buckets.delete(this.buckets.keys().next().value!);
    }
    bucket.at = now;
    this.buckets.set(group, bucket);
    return bucket;
  }
}
