/**
 * Idempotency keys (contract section 5), per credential.
 *
 * - same key, same request (method + path + canonical body) -> the stored response again;
 * - same key, different request -> mismatch (422 idempotency_key_reused);
 * - same key while the first is still running -> in progress (409 + Retry-After);
 * - 429 and 5xx are never stored: the caller releases the claim instead of completing it.
 *
 * Records expire `ttlSeconds` after they were claimed. Because the TTL is the same for every record,
 * Map insertion order is expiry order, so expired records are swept from the front in O(1) amortised.
 */

export interface StoredResponse {
  status: number;
  contentType: string;
  /** Response headers beyond content type (e.g. ETag). */
  headers: Record<string, string>;
  /** The body, or how to render it again (a batch keeps compact results, not 100 kB of JSON). */
  body: string | (() => string);
}

export type IdempotencyLookup =
  { kind: 'new' } | { kind: 'replay'; response: StoredResponse } | { kind: 'mismatch' } | { kind: 'in_progress' };

/** A claimed key: complete it with the final response, or release it when nothing was applied. */
export interface KeyClaim {
  complete(response: StoredResponse): void;
  /** For 429, 5xx and hangs: the key is forgotten so a retry runs afresh. */
  release(): void;
}

interface KeyRecord {
  fingerprint: string;
  expiresAt: number;
  response: StoredResponse | undefined;
}

export class IdempotencyStore {
  private readonly records = new Map<string, KeyRecord>();

  constructor(
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.records.size;
  }

  lookup(scope: string, key: string, fingerprint: string): IdempotencyLookup {
    const record = this.live(scope, key);
    if (!record) return { kind: 'new' };
    if (record.fingerprint !== fingerprint) return { kind: 'mismatch' };
    return record.response ? { kind: 'replay', response: record.response } : { kind: 'in_progress' };
  }

  /**
   * Marks the key as in progress. Call only after lookup() answered 'new' (in the same tick). The claim
   * answers for this record only: if it expired and was claimed again meanwhile, completing or releasing
   * the old claim leaves the new one alone.
   */
  claim(scope: string, key: string, fingerprint: string): KeyClaim {
    this.sweep();
    const id = recordId(scope, key);
    const record: KeyRecord = { fingerprint, expiresAt: this.now() + this.ttlSeconds * 1000, response: undefined };
    // An expired record may still sit in the Map: delete first so the new one goes to the back.
    this.records.delete(id);
    this.records.set(id, record);
    return {
      complete: (response) => {
        record.response = response;
      },
      release: () => {
        if (this.records.get(id) === record && record.response === undefined) this.records.delete(id);
      },
    };
  }

  clear(): void {
    this.records.clear();
  }

  private live(scope: string, key: string): KeyRecord | undefined {
    const record = this.records.get(recordId(scope, key));
    return record && record.expiresAt > this.now() ? record : undefined;
  }

  private sweep(): void {
    const now = this.now();
    for (const [id, record] of this.records) {
      // In-progress records are kept: their request still holds the key.
      if (record.expiresAt > now || record.response === undefined) break;
      this.records.delete(id);
    }
  }
}

/** Keys are per credential: two tokens may use the same key for different operations. */
function recordId(scope: string, key: string): string {
  return `${scope}\u0000${key}`;
}
