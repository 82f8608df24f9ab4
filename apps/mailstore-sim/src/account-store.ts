import { LoginIndex } from './login-index';
import type { AccountView } from './sim.types';

/** Bits of an account's protocol state (AccountStore.flags). */
export const IMAP = 1;
export const POP3 = 2;

const INITIAL_CAPACITY = 1024;

/**
 * Every account the mailstore knows, as struct-of-arrays: login -> index (LoginIndex, a hash table),
 * and the state in typed arrays indexed by it. A million accounts as objects would cost ~100 bytes each
 * more than the ~21 bytes here (flags 1, version 4, updatedAt 8, sessions 4, duplicate stamp 4), and the
 * hot path only touches numbers.
 *
 * Invariants: indices are dense (0..size-1) and never reused; `version` starts at 1 and goes up by one
 * per actual change; accounts start with every protocol off, as after the incident.
 */
export class AccountStore {
  private readonly index = new LoginIndex();
  private capacity = 0;
  flags = new Uint8Array(0);
  versions = new Uint32Array(0);
  /** Epoch milliseconds of the last change (or of seeding). */
  updatedAt = new Float64Array(0);
  /** Live sessions, simulated by the admin API. */
  sessions = new Uint32Array(0);
  /** Scratch for duplicate detection within one batch (see nextStamp). */
  private stamps = new Uint32Array(0);
  private stamp = 0;

  get size(): number {
    return this.index.size;
  }

  /** Adds the login if new; returns its index either way. */
  add(login: string, now = Date.now()): number {
    const before = this.index.size;
    const i = this.index.add(login);
    if (i === before) {
      if (i === this.capacity) this.grow(Math.max(INITIAL_CAPACITY, this.capacity * 2));
      this.versions[i] = 1;
      this.updatedAt[i] = now;
    }
    return i;
  }

  /** Reserves room up front when the count is known (seeding a million accounts). */
  reserve(count: number): void {
    this.index.reserve(count);
    if (count > this.capacity) this.grow(count);
  }

  /** Index of the login, or -1. */
  find(login: string): number {
    return this.index.find(login);
  }

  loginAt(i: number): string {
    return this.index.loginAt(i);
  }

  view(i: number): AccountView {
    const f = this.flags[i];
    return {
      protocols: { imap: (f & IMAP) !== 0, pop3: (f & POP3) !== 0 },
      version: this.versions[i],
      updatedAt: new Date(this.updatedAt[i]).toISOString(),
      sessions: this.sessions[i],
    };
  }

  /**
   * A fresh stamp for duplicate detection: an index is a duplicate in the current batch when
   * `markSeen(i)` returns false. Avoids a Set per batch on the hot path.
   */
  nextStamp(): void {
    this.stamp = (this.stamp + 1) >>> 0;
    if (this.stamp === 0) {
      // Wrapped after 4 billion batches: old marks could collide, so start over.
      this.stamps.fill(0);
      this.stamp = 1;
    }
  }

  markSeen(i: number): boolean {
    if (this.stamps[i] === this.stamp) return false;
    this.stamps[i] = this.stamp;
    return true;
  }

  private grow(capacity: number): void {
    this.flags = resized(this.flags, capacity);
    this.versions = resized(this.versions, capacity);
    this.updatedAt = resized(this.updatedAt, capacity);
    this.sessions = resized(this.sessions, capacity);
    this.stamps = resized(this.stamps, capacity);
    this.capacity = capacity;
  }
}

function resized<T extends Uint8Array | Uint32Array | Float64Array>(array: T, capacity: number): T {
  const next = new (array.constructor as new (n: number) => T)(capacity);
  next.set(array);
  return next;
}
