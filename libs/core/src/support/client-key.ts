import { createHash } from 'node:crypto';

/**
 * The caller's own Idempotency-Key for a support request (a double click, a retry after a lost answer): the same
 * caller sending the same request under it gets the operation the first one made; under another request, a 409.
 */
export interface ClientKey {
  key: string;
  /** What identifies the request: its kind, the account, the body. */
  hash: string;
}

/** The ClientKey of a request: sha256 of its kind, login (lower case) and body, keys sorted. */
export function clientKey(key: string, kind: string, login: string, body: object): ClientKey {
  const entries = Object.entries(body).sort(([a], [b]) => a.localeCompare(b));
  const hash = createHash('sha256')
    .update(JSON.stringify([kind, login.toLowerCase(), entries]))
    .digest('hex');
  return { key, hash };
}

/** The operation's columns for it (none without a key). */
export function clientColumns(client: ClientKey | undefined): { clientKey?: string; clientRequestHash?: string } {
  return client ? { clientKey: client.key, clientRequestHash: client.hash } : {};
}
