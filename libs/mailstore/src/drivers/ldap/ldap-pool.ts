import { isIP } from 'node:net';
import { Client, ResultCodeError } from 'ldapts';
import type { LdapMailstoreOptions } from './ldap.options';

type PoolOptions = Pick<
  LdapMailstoreOptions,
  'url' | 'startTls' | 'caPem' | 'bindDn' | 'bindPassword' | 'poolSize' | 'timeoutMs' | 'connectTimeoutMs'
>;

/** The host a StartTLS certificate must name: `host` for the check, `servername` (SNI) for a name, never an address. */
function serverIdentity(url: string): { host: string; servername?: string } {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? { host, servername: host } : { host };
}

/** Thrown to callers waiting for a connection when the pool is closed or the wait is aborted. */
export class PoolClosedError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PoolClosedError';
  }
}

/**
 * At most `poolSize` connections to the directory, each bound as the service DN, handed to one caller at a time
 * (a batch pipelines its modifies on the connection it holds). Hand-written (40 lines) rather than generic-pool or
 * tarn: neither has had a release since 2022, and the rules here are few: a connection whose socket failed is
 * thrown away (ldapts would otherwise reconnect it unbound), a new one binds before use, waiters are served in order.
 */
export class LdapPool {
  private readonly idle: Client[] = [];
  private readonly all = new Set<Client>();
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(private readonly options: PoolOptions) {}

  /** Runs `fn` on a bound connection, waiting for one when all are busy. */
  async use<T>(fn: (client: Client) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const client = await this.acquire(signal);
    let healthy = true;
    // An abort ends the exchange: the connection is dropped, so its operations fail at once (and it is not reused).
    const abort = () => void client.unbind().catch(() => undefined);
    signal?.addEventListener('abort', abort, { once: true });
    try {
      return await fn(client);
    } catch (err) {
      // A result code is the server's answer on a sound connection; anything else (reset, timeout) is not.
      healthy = err instanceof ResultCodeError;
      throw err;
    } finally {
      signal?.removeEventListener('abort', abort);
      this.release(client, healthy);
    }
  }

  /** Waits for the connections in use, then unbinds every connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    if (this.idle.length < this.all.size) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.discardAll();
  }

  /** Drops every connection now: operations in flight fail (the caller reports them as aborted). */
  async destroy(): Promise<void> {
    this.closed = true;
    this.wakeAll();
    await this.discardAll();
  }

  private async acquire(signal?: AbortSignal): Promise<Client> {
    for (;;) {
      if (this.closed) throw new PoolClosedError('the LDAP pool is closed');
      if (signal?.aborted) throw new PoolClosedError('aborted while waiting for an LDAP connection');
      const idle = this.idle.pop();
      if (idle?.isConnected) return idle;
      if (idle) this.discard(idle);
      if (this.all.size < this.options.poolSize) return this.connect();
      await this.waitForRelease(signal);
    }
  }

  private async connect(): Promise<Client> {
    const { caPem, startTls } = this.options;
    // The certificate is checked against these CAs (and the URL's host name) by Node's TLS, never skipped.
    const tlsOptions = caPem === undefined ? {} : { ca: [caPem] };
    const client = new Client({
      url: this.options.url,
      timeout: this.options.timeoutMs,
      connectTimeout: this.options.connectTimeoutMs,
      // ldaps:// only: given on an ldap:// URL, ldapts opens TLS at once and a later StartTLS finds no server for it.
      ...(startTls ? {} : { tlsOptions }),
    });
    this.all.add(client);
    try {
      // Upgraded before the bind: the password is only ever sent inside TLS. The certificate must name the URL's host
      // (ldapts would check it against "localhost" on an upgraded socket).
      if (startTls) await client.startTLS({ ...tlsOptions, ...serverIdentity(this.options.url) });
      await client.bind(this.options.bindDn, this.options.bindPassword);
      return client;
    } catch (err) {
      this.discard(client);
      this.wakeOne();
      throw err;
    }
  }

  private release(client: Client, healthy: boolean): void {
    if (healthy && !this.closed && client.isConnected) this.idle.push(client);
    else if (healthy && this.closed) this.idle.push(client);
    else this.discard(client);
    if (this.closed && this.idle.length >= this.all.size) this.drained?.();
    this.wakeOne();
  }

  private waitForRelease(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private wakeOne(): void {
    this.waiters[0]?.();
  }

  private wakeAll(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private discard(client: Client): void {
    this.all.delete(client);
    const i = this.idle.indexOf(client);
    if (i >= 0) this.idle.splice(i, 1);
    void client.unbind().catch(() => undefined);
  }

  private async discardAll(): Promise<void> {
    const clients = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(clients.map((c) => c.unbind().catch(() => undefined)));
  }
}
