import { setTimeout as sleep } from 'node:timers/promises';
import type { BatchItem, BatchOptions, Outcome, WriteOptions } from '@app/mailstore';
import { holdImapSession, imapLogin, type LoginAnswer } from './mail-clients';
import type { PrivateDovecot } from './private-dovecot';
import { startTcpGate } from './tcp-gate';

/** A native driver as this scenario uses it. */
interface KickingStore {
  batch(items: readonly BatchItem[], batchOpts: BatchOptions, opts: WriteOptions): Promise<Outcome<unknown>>;
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
  /** The same batch under the same key, doveadm reachable again. */
  replay: Outcome<unknown>;
  /** From the replay's start to the session's end (NaN: not within 5 s). */
  sessionEndedMs: number;
}

/**
 * A driver's owed kick, end to end on a real Dovecot: `account` logs in over IMAP and idles; doveadm is put behind a
 * gate that is shut; the driver (built by `storeFor` on the gated doveadm URL) turns IMAP off with revokeSessions;
 * the gate opens and the batch is replayed under the same key. Both native drivers' login specs run it.
 */
export async function runOwedKickScenario(
  dovecot: PrivateDovecot,
  account: { login: string; password: string },
  storeFor: (doveadmUrl: string) => KickingStore,
): Promise<OwedKickScenario> {
  const gate = await startTcpGate(Number(new URL(dovecot.doveadmUrl).port));
  const store = storeFor(`http://127.0.0.1:${gate.port}/doveadm/v1`);
  try {
    const on = await store.batch([{ account: account.login, protocols: { imap: true } }], {}, { idempotencyKey: 'on' });
    if (on.kind !== 'ok') throw new Error(`enable: ${JSON.stringify(on)}`);
    const session = await holdImapSession(dovecot.imapPort, account.login, account.password);
    try {
      gate.shut();
      const key = { idempotencyKey: 'owed-kick' };
      const items = [{ account: account.login, protocols: { imap: false } }];
      const whileShut = await store.batch(items, { revokeSessions: true }, key);
      const loginAfterWrite = await imapLogin(dovecot.imapPort, account.login, account.password);
      const sessionSurvivedTheWrite = !session.lines.some((line) => /BYE/.test(line));
      gate.open();
      const asked = performance.now();
      const replay = await store.batch(items, { revokeSessions: true }, key);
      const closedAt = await Promise.race([session.closed, sleep(5_000, NaN, { ref: false })]);
      return { whileShut, loginAfterWrite, sessionSurvivedTheWrite, replay, sessionEndedMs: closedAt - asked };
    } finally {
      session.close();
    }
  } finally {
    await store.close();
    await gate.close();
  }
}
