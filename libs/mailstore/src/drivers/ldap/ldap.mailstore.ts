import { performance } from 'node:perf_hooks';
import { FilterParser, ResultCodeError, type Client, type Filter } from 'ldapts';
import type { Mailstore } from '../../mailstore';
import type {
  AccessRead,
  BatchItem,
  BatchItemResult,
  BatchOptions,
  BatchResult,
  CallOptions,
  Capabilities,
  RevokeSessionsResult,
  WriteOptions,
} from '../../mailstore.types';
import { retryable, type Outcome } from '../../outcome';
import { ASSERTION_FAILED, AssertionControl } from './assertion-control';
import { DoveadmClient } from '../doveadm';
import { NativeMailstore, summarise } from '../native-mailstore';
import { revokeTurnedOff } from '../session-kicks';
import { planWrite, PROTOCOLS } from './ldap-entry';
import { invalidItem } from './ldap-items';
import { searchAccounts, type Found } from './ldap-read';
import { failureOutcome, itemErrorCode } from './ldap-outcome';
import { LdapPool } from './ldap-pool';
import type { LdapMailstoreOptions } from './ldap.options';

/** Re-reads of one entry after its assertion failed or its DN vanished (someone else wrote or moved it meanwhile). */
const MAX_ASSERTION_RETRIES = 3;
/** LDAP result noSuchObject: on a modify, no entry at that DN (deleted, or moved or renamed since our search). */
const NO_SUCH_OBJECT = 32;

/**
 * The `ldap` driver (issue 18): the per-protocol switches are attributes of the account's entry in a directory
 * (OpenLDAP, or any server with the assertion control), through ldapts.
 *
 * A batch holds one pooled connection: one search reads every item's entry, then each change is one modify
 * carrying an assertion control (RFC 4528) of the state just read, so a change made by someone else in between
 * makes the server refuse ours (`assertionFailed`): the driver reads that entry again and decides again (a
 * conflict when `ifVersion` no longer holds). `previous` is therefore exactly the state our modify replaced.
 * The pre-read control (RFC 4527) would return it in the modify's own answer, but ldapts' `modify` does not
 * surface response controls; the assertion makes the separate read as good.
 *
 * The version is an integer attribute the driver raises by one in the same modify (LDAP_VERSION_ATTRIBUTE), not
 * entryCSN or modifyTimestamp: those are not integers, a password change would move them (a false conflict), and
 * modifyTimestamp has one-second resolution (two changes in one second would look like none).
 */
export class LdapMailstore extends NativeMailstore implements Mailstore {
  private readonly pool: LdapPool;
  protected readonly doveadm: DoveadmClient | undefined;
  protected readonly storePart = 'directory';
  protected readonly caps: Capabilities;
  protected readonly driverName = 'ldap';
  /** The version attribute is raised by one in every modify. */
  readonly versionsNameWrites = true;
  protected readonly serverHost: string;
  private readonly baseFilter: Filter;
  private destroyed = false;

  constructor(private readonly options: LdapMailstoreOptions) {
    super();
    this.pool = new LdapPool(options);
    this.serverHost = new URL(options.url).hostname;
    this.doveadm = options.doveadm ? new DoveadmClient(options.doveadm) : undefined;
    // Checked at boot by the same parser (ldap.settings.ts).
    this.baseFilter = FilterParser.parseString(options.filter.trim());
    this.caps = {
      protocols: [...PROTOCOLS],
      maxBatchItems: options.maxBatchItems,
      revokeSessions: this.doveadm !== undefined,
      conditionalUpdates: true,
      // Writes are desired states guarded by assertions: a replay is `unchanged`, no key is stored.
      idempotencyKeyTtlSeconds: 0,
      // Dovecot asks the directory at every login (auth cache off, its default).
      propagation: { mode: 'immediate', maxSeconds: 0 },
      rateLimits: {
        requestsPerSecond: options.updatesPerSecond,
        requestBurst: options.updatesPerSecond,
        accountUpdatesPerSecond: options.updatesPerSecond,
        accountUpdateBurst: options.maxBatchItems,
      },
    };
  }

  protected async readAccess(account: string, opts: CallOptions): Promise<Outcome<AccessRead>> {
    const started = performance.now();
    try {
      const found = await this.pool.use(
        async (client) => (await this.read(client, [account])).get(account),
        opts.signal,
      );
      const latencyMs = performance.now() - started;
      if (!found || found.kind === 'missing') return notFound(latencyMs);
      if (found.kind === 'invalid')
        return { kind: 'permanent', status: 409, code: found.code, detail: found.detail, latencyMs };
      const { protocols, version, updatedAt } = found.state;
      return this.ok({ account, protocols: { ...protocols }, version, updatedAt, etag: version }, latencyMs);
    } catch (err) {
      return this.failure(err, false, started, opts.signal);
    }
  }

  protected async writeBatch(
    items: readonly BatchItem[],
    batchOpts: BatchOptions,
    opts: WriteOptions,
  ): Promise<Outcome<BatchResult>> {
    const started = performance.now();
    if (items.length === 0) {
      return { kind: 'permanent', status: 400, code: 'invalid_request', detail: 'no items', latencyMs: 0 };
    }
    if (items.length > this.options.maxBatchItems) {
      const { maxBatchItems: maxItems } = this.options;
      return { kind: 'permanent', status: 413, code: 'batch_too_large', maxItems, latencyMs: 0 };
    }
    const results: (BatchItemResult | undefined)[] = items.map((item, i) => invalidItem(item, items, i));
    const valid = items.filter((_, i) => results[i] === undefined);
    const phase = { wrote: false };
    try {
      if (valid.length > 0) {
        if (opts.sendBy !== undefined && performance.now() > opts.sendBy) {
          return retryable('send_window_missed', undefined, false, 'not sent before sendBy', 0);
        }
        await this.pool.use(async (client) => {
          if (opts.sendBy !== undefined && performance.now() > opts.sendBy) throw new SendWindowMissed();
          const found = await this.read(
            client,
            valid.map((v) => v.account),
          );
          // Every item settles before the connection goes back (allSettled, not all): after a failure, an item still
          // re-reading its entry would run on a connection the pool dropped, and ldapts would open it again, unbound
          // and outside the pool, never closed.
          const settled = await Promise.allSettled(
            items.map(async (item, i) => {
              if (results[i] !== undefined) return;
              results[i] = await this.applyItem(client, item, found.get(item.account), phase);
            }),
          );
          const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
          if (failed) throw failed.reason;
        }, opts.signal);
      }
      const done = results as BatchItemResult[];
      if (batchOpts.revokeSessions && this.doveadm) {
        const failed = await revokeTurnedOff(this.doveadm, items, done, opts, () => performance.now() - started);
        if (failed) return failed;
      }
      return this.ok({ summary: summarise(done), results: done }, performance.now() - started);
    } catch (err) {
      if (err instanceof SendWindowMissed) {
        return retryable('send_window_missed', undefined, false, 'not sent before sendBy', performance.now() - started);
      }
      return this.failure(err, phase.wrote, started, opts.signal);
    }
  }

  async revokeSessions(account: string, opts: WriteOptions): Promise<Outcome<RevokeSessionsResult>> {
    const started = performance.now();
    if (!this.doveadm) {
      return {
        kind: 'permanent',
        status: 501,
        code: 'revoke_not_configured',
        detail: 'DOVEADM_URL is not set',
        latencyMs: 0,
      };
    }
    // An unknown login is 404 account_not_found, as for every other call (the conformance suite).
    try {
      const found = await this.pool.use(
        async (client) => (await this.read(client, [account])).get(account),
        opts.signal,
      );
      if (!found || found.kind === 'missing') return notFound(performance.now() - started);
    } catch (err) {
      return this.failure(err, false, started, opts.signal);
    }
    const kicked = await this.doveadm.kick([account], opts.signal);
    if (!kicked.ok) return kicked.failure;
    return this.ok({ account, sessions: kicked.sessions.get(account) ?? 'none' }, performance.now() - started);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  async destroy(): Promise<void> {
    this.destroyed = true;
    await this.pool.destroy();
  }

  /** One search for every login (ldap-read.ts). */
  private read(client: Client, accounts: readonly string[]): Promise<Map<string, Found>> {
    return searchAccounts(client, accounts, this.options, this.baseFilter);
  }

  private async readOne(client: Client, account: string): Promise<Found> {
    return (await this.read(client, [account])).get(account) ?? { kind: 'missing' };
  }

  /** Decides and writes one item; the assertion makes the decision hold at the moment of the write. */
  private async applyItem(
    client: Client,
    item: BatchItem,
    found: Found | undefined,
    phase: { wrote: boolean },
  ): Promise<BatchItemResult> {
    const { account } = item;
    for (let attempt = 0; ; attempt++) {
      if (!found || found.kind === 'missing')
        return { account, status: 'not_found', error: { code: 'account_not_found' } };
      if (found.kind === 'invalid')
        return { account, status: 'invalid', error: { code: found.code, detail: found.detail } };
      const current = found.state;
      const state = { protocols: { ...current.protocols }, version: current.version, updatedAt: current.updatedAt };
      if (item.ifVersion !== undefined && item.ifVersion !== current.version) {
        return { account, status: 'conflict', ...state, error: { code: 'version_mismatch' } };
      }
      const plan = planWrite(current, item.protocols, this.options);
      if (!plan) return { account, status: 'unchanged', ...state, previous: { ...current.protocols } };
      try {
        phase.wrote = true;
        await client.modify(current.dn, plan.changes, new AssertionControl(plan.assertion));
        return {
          account,
          status: 'applied',
          protocols: plan.protocols,
          previous: { ...current.protocols },
          version: plan.version,
          updatedAt: new Date().toISOString(),
        };
      } catch (err) {
        const reread = err instanceof ResultCodeError && (err.code === ASSERTION_FAILED || err.code === NO_SUCH_OBJECT);
        if (reread && attempt < MAX_ASSERTION_RETRIES) {
          // Someone changed the entry since our read (assertionFailed), or moved or renamed it (noSuchObject at the
          // DN read): read it again by its login and decide again (never clobber; never `not_found` for an entry
          // that is still there, which a rollback would record as restored-nothing while the account stays open).
          found = await this.readOne(client, account);
          continue;
        }
        if (err instanceof ResultCodeError && err.code === NO_SUCH_OBJECT)
          return { account, status: 'not_found', error: { code: 'account_not_found' } };
        const code = itemErrorCode(err);
        if (code)
          return {
            account,
            status: 'invalid',
            error: { code, detail: `LDAP result ${(err as ResultCodeError).code}` },
          };
        if (err instanceof ResultCodeError && err.code === ASSERTION_FAILED) {
          return { account, status: 'conflict', error: { code: 'concurrent_modification' } };
        }
        throw err;
      }
    }
  }

  private ok<T>(value: T, latencyMs: number): Outcome<T> {
    return { kind: 'ok', status: 200, value, latencyMs, replayed: false };
  }

  private failure(err: unknown, wrote: boolean, started: number, signal?: AbortSignal): Outcome<never> {
    const aborted = this.destroyed || signal?.aborted === true;
    return failureOutcome(err, { wrote, aborted, latencyMs: performance.now() - started });
  }
}

class SendWindowMissed extends Error {}

function notFound(latencyMs: number): Outcome<never> {
  return { kind: 'permanent', status: 404, code: 'account_not_found', latencyMs };
}
