import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchItem, BatchItemResult, BatchOptions, BatchResult, Outcome, WriteOptions } from '@app/mailstore';
import { holdImapSession, imapLogin, type LoginAnswer } from './mail-clients';
import type { PrivateDovecot } from './private-dovecot';
import { startTcpGate } from './tcp-gate';

/** A native driver as this scenario uses it. */
interface KickingStore {
  batch(items: readonly BatchItem[], batchOpts: BatchOptions, opts: WriteOptions): Promise<Outcome<BatchResult>>;
  close(): Promise<void>;
}

/** What happened, for the spec to assert. */
export interface OwedKickScenario {
  /** The disable sent while doveadm was unreachable. */
  whileShut: Outcome<unknown>;
  /** A login with the right password right after it (the switch is written: refused). */
  loginAfterWrite: LoginAnswer;
  /** The live session was still open when doveadm came back. */
  sessionSurvivedTheWrite: boolean;
  /** The same batch under the same key, in doubt (as the engine resends it), doveadm reachable again. */
  replay: Outcome<BatchResult>;
  /** From the replay's start to the session's end (NaN: not within 5 s). */
  sessionEndedMs: number;
  /** A login with the right password after the replay. */
  loginAfterReplay: LoginAnswer;
}

export interface OwedKickOptions {
  /**
   * The replay is sent by a fresh driver instance, the first one closed (a worker restarted in between): nothing of
   * the first attempt survives but the directory or database, and what the engine keeps (the batch in doubt).
   */
  restart?: boolean;
  /**
   * Items carry `ifVersion` (the version the enable produced), as the engine's rollback sends them: the replay then
   * finds the version moved by the first attempt's own write.
   */
  ifVersion?: boolean;
  /** An account with IMAP off and no session, in the same batch: the replay kicks it too (doveadm: nothing to end). */
  idle?: string;
}

/**
 * A driver's owed kick, end to end on a real Dovecot: `account` logs in over IMAP and idles; doveadm is put behind a
 * gate that is shut; the driver (built by `storeFor` on the gated doveadm URL) turns IMAP off with revokeSessions;
 * the gate opens and the batch is resent under the same key, marked in doubt as the engine marks it
 * (wave_batches.in_doubt). Both native drivers' login specs run it.
 */
export async function runOwedKickScenario(
  dovecot: PrivateDovecot,
  account: { login: string; password: string },
  storeFor: (doveadmUrl: string) => KickingStore,
  options: OwedKickOptions = {},
): Promise<OwedKickScenario> {
  const gate = await startTcpGate(Number(new URL(dovecot.doveadmUrl).port));
  const doveadmUrl = `http://127.0.0.1:${gate.port}/doveadm/v1`;
  const stores = [storeFor(doveadmUrl)];
  try {
    const on = await stores[0].batch(
      [{ account: account.login, protocols: { imap: true } }],
      {},
      { idempotencyKey: 'on' },
    );
    if (on.kind !== 'ok') throw new Error(`enable: ${JSON.stringify(on)}`);
    const ifVersion = options.ifVersion ? { ifVersion: on.value.results[0].version } : {};
    const session = await holdImapSession(dovecot.imapPort, account.login, account.password);
    try {
      gate.shut();
      const key = 'owed-kick';
      const items = [
        { account: account.login, protocols: { imap: false }, ...ifVersion },
        ...(options.idle ? [{ account: options.idle, protocols: { imap: false } }] : []),
      ];
      const whileShut = await stores[0].batch(items, { revokeSessions: true }, { idempotencyKey: key });
      const loginAfterWrite = await imapLogin(dovecot.imapPort, account.login, account.password);
      const sessionSurvivedTheWrite = !session.lines.some((line) => /BYE/.test(line));
      if (options.restart) {
        await stores[0].close();
        stores.push(storeFor(doveadmUrl));
      }
      gate.open();
      const asked = performance.now();
      const replay = await stores[stores.length - 1].batch(
        items,
        { revokeSessions: true },
        { idempotencyKey: key, inDoubt: true },
      );
      const closedAt = await Promise.race([session.closed, sleep(5_000, NaN, { ref: false })]);
      const loginAfterReplay = await imapLogin(dovecot.imapPort, account.login, account.password);
      return {
        whileShut,
        loginAfterWrite,
        sessionSurvivedTheWrite,
        replay,
        sessionEndedMs: closedAt - asked,
        loginAfterReplay,
      };
    } finally {
      session.close();
    }
  } finally {
    await stores[stores.length - 1].close();
    await gate.close();
  }
}

/** The replay's item answers, the same for both native drivers (for `toMatchObject`). */
export function owedKickReplayResults(options: OwedKickOptions = {}): Partial<BatchItemResult>[] {
  return [
    options.ifVersion
      ? // The first attempt's own write moved the version past ifVersion: a conflict, in the state asked for.
        { status: 'conflict', protocols: { imap: false }, sessions: 'revoked' }
      : { status: 'unchanged', protocols: { imap: false }, sessions: 'revoked' },
    // No session to end: doveadm's "no such user" (exit code 68) is `none`, not a failure.
    ...(options.idle ? [{ status: 'unchanged' as const, protocols: { imap: false }, sessions: 'none' as const }] : []),
  ];
}
