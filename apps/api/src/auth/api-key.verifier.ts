import { Inject, Injectable } from '@nestjs/common';
import { ApiKeyService, hashApiKey } from '@app/core';
import { API_SETTINGS } from '../infra.tokens';
import type { ApiSettings } from '../api-settings';
import { Principal } from './principal';

const SECRET = /^[A-Za-z0-9_-]{16,200}$/;
const MAX_CACHED = 10_000;

interface Entry {
  principal: Principal;
  verifiedAt: number;
  refreshing?: Promise<unknown>;
}

/**
 * Verifies a bearer secret against the stored hashes, and remembers a verified key for API_KEY_CACHE_MS so
 * pollers do not cost a query per request. Past half that time the key is re-verified in the background while
 * requests go on; past the whole of it, a request waits for a fresh verification. A revocation therefore takes
 * effect within API_KEY_CACHE_MS. Unknown secrets are never cached (a new key works at once).
 */
@Injectable()
export class ApiKeyVerifier {
  private readonly cache = new Map<string, Entry>();

  constructor(
    private readonly keys: ApiKeyService,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
  ) {}

  async verify(secret: string): Promise<Principal | null> {
    if (!SECRET.test(secret)) return null;
    const hash = hashApiKey(secret);
    const ttl = this.settings.API_KEY_CACHE_MS;
    const hit = this.cache.get(hash);
    const age = hit ? Date.now() - hit.verifiedAt : Infinity;
    if (hit && age < ttl) {
      if (age >= ttl / 2) hit.refreshing ??= this.lookup(secret, hash).catch(() => undefined);
      return hit.principal;
    }
    return this.lookup(secret, hash);
  }

  private async lookup(secret: string, hash: string): Promise<Principal | null> {
    const key = await this.keys.verify(secret);
    if (!key) {
      this.cache.delete(hash);
      return null;
    }
    const principal: Principal = { keyId: key.id, name: key.name, role: key.role, actor: `${key.role}:${key.name}` };
    if (this.settings.API_KEY_CACHE_MS > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(hash, { principal, verifiedAt: Date.now() });
    }
    return principal;
  }
}
