import { Inject, Injectable } from '@nestjs/common';
import { API_KEY_SHAPE, ActiveApiKey, ApiKeyService, hashApiKey } from '@app/core';
import { API_SETTINGS } from '../infra.tokens';
import type { ApiSettings } from '@app/config';
import { Principal } from './principal';

const MAX_CACHED = 10_000;
/** Unknown secrets remembered at once; the oldest is forgotten first (it only costs a look-up again). */
const MAX_REFUSED = 10_000;

interface Entry {
  principal: Principal;
  /** When the query that verified it was sent: what it saw was true then or later. */
  verifiedAt: number;
  /** Asked for since verifiedAt: the next refresh re-verifies it (a key nobody uses just ages out). */
  used?: boolean;
  /** Taken by a refresh: one background attempt per verification, as a failed one is not retried. */
  refreshing?: boolean;
}

/**
 * Verifies a bearer secret against the stored hashes, and remembers a verified key for API_KEY_CACHE_MS so
 * pollers do not cost a query per request. When a key in use is past half that time, every key served since its last
 * verification is re-verified in the background with ONE query (ApiKeyService.verifyHashes: a mail server's, a
 * dashboard's and the CLI's keys cost one statement per refresh, not one each) while requests go on; past the whole
 * of it, a request waits for a verification of its own. A revocation therefore takes effect within API_KEY_CACHE_MS.
 *
 * A secret found unknown or revoked is refused from memory for API_KEY_NEGATIVE_CACHE_MS (a dashboard left on a
 * revoked key polls for free). A key created since cannot be among them: its secret is random and was never
 * presented before it existed, so a new key works at once. Concurrent look-ups of one secret share one query.
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly cache = new Map<string, Entry>();
  /** Hash → when the refusal expires, least recently refused first. */
  private readonly refused = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<Principal | null>>();
  /** The background re-verification under way, if any (one at a time). */
  private refreshing?: Promise<void>;

  constructor(
    private readonly keys: ApiKeyService,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
  ) {}

  /**
   * Whether checking this secret costs no query of its own: this process verified it before and has not seen it
   * refused since (not a guess; it is still re-verified as usual), or its look-up is already under way (the request
   * shares it). Such requests are not charged to their address's budget.
   */
  isFree(secret: string): boolean {
    if (!wellFormed(secret)) return false;
    const hash = this.hash(secret);
    return this.cache.has(hash) || this.inFlight.has(hash);
  }

  async verify(secret: string): Promise<Principal | null> {
    if (!wellFormed(secret)) return null;
    const hash = this.hash(secret);
    const fresh = this.fresh(hash);
    if (fresh) return fresh;
    const refusedUntil = this.refused.get(hash);
    if (refusedUntil !== undefined) {
      if (Date.now() < refusedUntil) return null;
      this.refused.delete(hash);
    }
    return this.lookup(secret, hash);
  }

  /**
   * verify's answer when it needs no look-up: the principal of a key verified less than API_KEY_CACHE_MS ago (a
   * background re-verification started past half of it, as verify does), else undefined (then call verify). For the
   * login-event route answered on node's request event (login-event.raw-route.ts), which must not wait a tick.
   */
  cached(secret: string): Principal | undefined {
    return wellFormed(secret) ? this.fresh(this.hash(secret)) : undefined;
  }

  private fresh(hash: string): Principal | undefined {
    const ttl = this.settings.API_KEY_CACHE_MS;
    const hit = this.cache.get(hash);
    if (!hit) return undefined;
    const age = Date.now() - hit.verifiedAt;
    if (age >= ttl) return undefined;
    hit.used = true;
    if (age >= ttl / 2 && !hit.refreshing && !this.refreshing) {
      this.refreshing = this.refresh()
        .catch(() => undefined) // the keys age out and are verified one by one, as when the database is away
        .finally(() => (this.refreshing = undefined));
    }
    return hit.principal;
  }

  /**
   * Re-verifies, in one query, every key served since its last verification and not past the cache time (those go
   * through verify's own look-up). A key found unknown or revoked is dropped and refused, as verify refuses it.
   */
  private async refresh(): Promise<void> {
    const ttl = this.settings.API_KEY_CACHE_MS;
    const started = Date.now();
    const batch = new Map<string, Entry>();
    for (const [hash, entry] of this.cache) {
      if (!entry.used || entry.refreshing || started - entry.verifiedAt >= ttl) continue;
      entry.refreshing = true;
      batch.set(hash, entry);
    }
    const found = await this.keys.verifyHashes([...batch.keys()]);
    for (const [hash, entry] of batch) {
      if (this.cache.get(hash) !== entry) continue; // replaced since by a newer verification, or dropped
      const key = found.get(hash);
      if (key) {
        this.cache.set(hash, { principal: principalOf(key), verifiedAt: started });
      } else {
        this.cache.delete(hash);
        this.refuse(hash);
      }
    }
  }

  /**
   * The guard asks isFree then verify for the same secret: the last hash is kept so each request hashes its key once
   * (a SHA-256 per request showed in the API's CPU profile under the mail server's login events, bench:events).
   */
  private last = { secret: '', hash: '' };
  private hash(secret: string): string {
    if (this.last.secret !== secret) this.last = { secret, hash: hashApiKey(secret) };
    return this.last.hash;
  }

  private lookup(secret: string, hash: string): Promise<Principal | null> {
    let pending = this.inFlight.get(hash);
    if (!pending) {
      pending = this.query(secret, hash).finally(() => this.inFlight.delete(hash));
      this.inFlight.set(hash, pending);
    }
    return pending;
  }

  private async query(secret: string, hash: string): Promise<Principal | null> {
    const started = Date.now();
    const key = await this.keys.verify(secret);
    if (!key) {
      this.cache.delete(hash);
      this.refuse(hash);
      return null;
    }
    const principal = principalOf(key);
    if (this.settings.API_KEY_CACHE_MS > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { principal, verifiedAt: started, used: true }); // by the request that asked
    }
    return principal;
  }

  private refuse(hash: string): void {
    const ttl = this.settings.API_KEY_NEGATIVE_CACHE_MS;
    if (ttl <= 0) return;
    this.refused.delete(hash);
    if (this.refused.size >= MAX_REFUSED) this.refused.delete(this.refused.keys().next().value!);
    this.refused.set(hash, Date.now() + ttl);
  }
}

function principalOf(key: ActiveApiKey): Principal {
  return { keyId: key.id, name: key.name, role: key.role, actor: `${key.role}:${key.name}` };
}

function wellFormed(secret: string): boolean {
  return API_KEY_SHAPE.test(secret);
}
