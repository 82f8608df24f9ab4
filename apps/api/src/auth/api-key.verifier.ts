import { Inject, Injectable } from '@nestjs/common';
import { API_KEY_SHAPE, ApiKeyService, hashApiKey } from '@app/core';
import { API_SETTINGS } from '../infra.tokens';
import type { ApiSettings } from '../api-settings';
import { Principal } from './principal';

const MAX_CACHED = 10_000;
/** Unknown secrets remembered at once; the oldest is forgotten first (it only costs a look-up again). */
const MAX_REFUSED = 10_000;

interface Entry {
  principal: Principal;
  verifiedAt: number;
  refreshing?: Promise<unknown>;
}

/**
 * Verifies a bearer secret against the stored hashes, and remembers a verified key for API_KEY_CACHE_MS so
 * pollers do not cost a query per request. Past half that time the key is re-verified in the background while
 * requests go on; past the whole of it, a request waits for a fresh verification. A revocation therefore takes
 * effect within API_KEY_CACHE_MS.
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
    const fresh = this.fresh(secret, hash);
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
    return wellFormed(secret) ? this.fresh(secret, this.hash(secret)) : undefined;
  }

  private fresh(secret: string, hash: string): Principal | undefined {
    const ttl = this.settings.API_KEY_CACHE_MS;
    const hit = this.cache.get(hash);
    if (!hit) return undefined;
    const age = Date.now() - hit.verifiedAt;
    if (age >= ttl) return undefined;
    if (age >= ttl / 2) hit.refreshing ??= this.lookup(secret, hash).catch(() => undefined);
    return hit.principal;
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
    const key = await this.keys.verify(secret);
    if (!key) {
      this.cache.delete(hash);
      this.refuse(hash);
      return null;
    }
    const principal: Principal = { keyId: key.id, name: key.name, role: key.role, actor: `${key.role}:${key.name}` };
    if (this.settings.API_KEY_CACHE_MS > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { principal, verifiedAt: Date.now() });
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

function wellFormed(secret: string): boolean {
  return API_KEY_SHAPE.test(secret);
}
