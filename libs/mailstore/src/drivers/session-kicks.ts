import type { BatchItem, BatchItemResult, Protocol } from '../mailstore.types';
import { retryable, type FailureOutcome } from '../outcome';
import type { DoveadmClient } from './doveadm';

const PROTOCOLS: readonly Protocol[] = ['imap', 'pop3'];

/** Results that tell the account's state as it is now (a conflict carries the state that refused `ifVersion`). */
const STATE_TELLING: ReadonlySet<BatchItemResult['status']> = new Set(['applied', 'unchanged', 'conflict']);

/**
 * Whose sessions a batch with `revokeSessions` ends, `results[i]` answering `items[i]`:
 * - an item this attempt turned from on to off (the contract's rule);
 * - when the batch is in doubt (`WriteOptions.inDoubt`: an earlier attempt under its key may have written without its
 *   kick, because doveadm failed after the commit or the worker died), every item whose desired state turns a protocol
 *   off that is off now, whatever this attempt found: `unchanged`, or a `conflict` when that attempt's own write moved
 *   the version. Nothing is remembered between attempts, so a worker restarted in between forgets nothing. Kicking a
 *   user without a session is harmless (doveadm answers exit code 68: `none`); an account whose protocol is on again
 *   (someone enabled it since) is not kicked.
 */
export function accountsToKick(
  items: readonly BatchItem[],
  results: readonly BatchItemResult[],
  inDoubt: boolean,
): string[] {
  const kick = new Set<string>();
  results.forEach((r, i) => {
    const turnedOffNow =
      r.status === 'applied' && PROTOCOLS.some((p) => r.previous?.[p] === true && r.protocols?.[p] === false);
    const offAsAsked =
      inDoubt &&
      STATE_TELLING.has(r.status) &&
      PROTOCOLS.some((p) => items[i].protocols[p] === false && r.protocols?.[p] === false);
    if (turnedOffNow || offAsAsked) kick.add(r.account);
  });
  return [...kick];
}

/**
 * Ends those sessions in one doveadm request and says each item's `sessions` (kicked: doveadm's answer; other items
 * written or left as they were: `none`). A failed kick is returned as the batch's answer: `retryable` with
 * `outcomeUnknown`, the switches being written (no new login is possible), so the engine resends the batch under the
 * same key, in doubt, and that attempt kicks them; past its failure limit the wave pauses as unreachable, which is what
 * a rollback that cannot end sessions must do.
 */
export async function revokeTurnedOff(
  doveadm: DoveadmClient,
  items: readonly BatchItem[],
  results: BatchItemResult[],
  opts: { inDoubt?: boolean; signal?: AbortSignal },
  elapsedMs: () => number,
): Promise<FailureOutcome | null> {
  const users = accountsToKick(items, results, opts.inDoubt === true);
  const kicked = await doveadm.kick(users, opts.signal);
  if (!kicked.ok) {
    const why = 'detail' in kicked.failure ? kicked.failure.detail : kicked.failure.kind;
    const detail = `access written, sessions not revoked: ${why ?? 'doveadm failed'}`;
    return retryable('upstream_error', undefined, true, detail, elapsedMs());
  }
  for (const r of results) {
    if (!STATE_TELLING.has(r.status)) continue;
    const answer = kicked.sessions.get(r.account);
    if (answer !== undefined) r.sessions = answer;
    else if (r.status !== 'conflict') r.sessions = 'none';
  }
  return null;
}
