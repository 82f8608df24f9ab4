import type { Protocol } from './eligibility';

/** The protocols a write names, as the booleans it sets (a protocol it leaves alone is absent). */
export type NamedProtocols = Partial<Record<Protocol, boolean>>;

/**
 * One write of ours to an account, as recorded: the version it found (a rollback's `ifVersion`, a forward member's
 * version as its permit read it), the version the mailstore answered it made, and the protocols it named.
 */
export interface OwnWrite {
  from: number;
  to: number;
  names: readonly Protocol[];
}

/** Longest chain of our own writes followed (far more than two waves and their rollbacks ever make). */
const MAX_WRITES_FOLLOWED = 64;

/**
 * Whether a rollback item refused by its `ifVersion` (a conflict) may be asked again at the version the mailstore
 * answered: every protocol it restores is still as the wave left it (on: a rollback only closes what its wave
 * opened), and the version moved from ours (`from`) to the one answered (`to`) through writes of ours only, none of
 * which named a protocol it restores (another wave opened POP3 after this one opened IMAP; that wave's rollback).
 * Refused otherwise: somebody else (support's enable or disable, which records no version it found, an operator at
 * the mail server) may have meant the state as it is, and ifVersion exists to keep their change.
 *
 * Without it, rolling back two overlapping waves left open what the first one opened: its rollback's ifVersion met
 * the second wave's version whichever went first.
 */
export function reaskable(
  restores: NamedProtocols,
  now: Record<Protocol, boolean>,
  versions: { from: number; to: number },
  writes: readonly OwnWrite[],
): boolean {
  const restored = (Object.keys(restores) as Protocol[]).filter((p) => restores[p] !== undefined);
  if (restored.length === 0 || !restored.every((p) => now[p] === true)) return false;
  const usable = writes.filter((w) => !w.names.some((p) => restored.includes(p)));
  const seen = new Set([versions.from]);
  let frontier = [versions.from];
  for (let step = 0; step < MAX_WRITES_FOLLOWED && frontier.length > 0; step++) {
    const next: number[] = [];
    for (const v of frontier)
      for (const w of usable) {
        if (w.from !== v || seen.has(w.to)) continue;
        if (w.to === versions.to) return true;
        seen.add(w.to);
        next.push(w.to);
      }
    frontier = next;
  }
  return false;
}

/**
 * A rollback conflict that no chain of our writes explains while another writer of ours has not recorded its write
 * yet (a batch of another wave in doubt, retried with backoff; a support operation under way) waits to be judged
 * again, spaced in time so that writer has the time to record: the n-th wait (n from 0) lasts
 * REQUEUE_FIRST_DELAY_MS × 2^n, at most REQUEUE_MAX_DELAY_MS, and after REQUEUE_LIMIT waits (about three minutes in
 * all) the conflict stands. Waiting without spacing (the first version: five re-judgements within a second) let
 * the conflict stand, and the account stay open, whenever the other writer took longer than that.
 */
export const REQUEUE_LIMIT = 12;
export const REQUEUE_FIRST_DELAY_MS = 250;
export const REQUEUE_MAX_DELAY_MS = 30_000;

/** How long a rollback member sent back to wait for the `waitsSoFar`-th time waits; null once none is left. */
export function requeueDelayMs(waitsSoFar: number): number | null {
  if (!Number.isInteger(waitsSoFar) || waitsSoFar < 0 || waitsSoFar >= REQUEUE_LIMIT) return null;
  return Math.min(REQUEUE_MAX_DELAY_MS, REQUEUE_FIRST_DELAY_MS * 2 ** waitsSoFar);
}
