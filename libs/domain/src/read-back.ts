import type { Protocol } from './eligibility';

/** What a read-back GET showed for one account the wave enabled. */
export interface ReadBack {
  protocols: Partial<Record<Protocol, boolean>>;
  /** The mailstore's version of the account (it goes up only when something changed). */
  version: number;
}

/**
 * Whether a read-back of an account the wave enabled shows the wave's change missing (eventual propagation). An
 * account written again after the wave's write (its version past `resultVersion`: the per-account reaction, a support
 * agent, another wave) shows that later change, not a propagation failure of this wave's: it is no mismatch. Without
 * a recorded version, the protocols alone decide.
 */
export function readBackMismatch(wanted: readonly Protocol[], read: ReadBack, resultVersion: number | null): boolean {
  if (resultVersion !== null && read.version > resultVersion) return false;
  return !wanted.every((p) => read.protocols[p] === true);
}
