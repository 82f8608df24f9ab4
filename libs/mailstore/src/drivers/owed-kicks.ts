import { retryable, type FailureOutcome } from '../outcome';

/** Kicks owed after a write whose doveadm call failed, kept at most this many keys and this long. */
const OWED_KICKS_MAX = 10_000;
const OWED_KICKS_TTL_MS = 24 * 3600_000;

/**
 * The sessions a native driver still has to end for a batch, by its idempotency key: the write was committed, the
 * doveadm kick failed, so the batch answered `retryable` with `outcomeUnknown` and the engine resends it under the
 * same key; the replay changes no switch (`unchanged`) and does the owed kicks. Kept in the driver's memory: a
 * worker that restarts in between forgets them (docs/drivers.md says so). Bounded: oldest keys go first.
 */
export class OwedKicks {
  private readonly byKey = new Map<string, { users: string[]; at: number }>();

  /** The users to kick for this attempt: those owed under `key` and those it turned off now. */
  withOwed(key: string, turnedOff: readonly string[]): string[] {
    return [...new Set([...(this.byKey.get(key)?.users ?? []), ...turnedOff])];
  }

  owe(key: string, users: string[]): void {
    const now = Date.now();
    for (const [k, v] of this.byKey) {
      if (this.byKey.size < OWED_KICKS_MAX && now - v.at < OWED_KICKS_TTL_MS) break;
      this.byKey.delete(k); // oldest first (insertion order)
    }
    this.byKey.delete(key);
    this.byKey.set(key, { users, at: now });
  }

  paid(key: string): void {
    this.byKey.delete(key);
  }
}

/**
 * A batch whose write was committed but whose kick failed: `retryable` with `outcomeUnknown`, so the engine resends it
 * under the same key (the batch is in doubt) and the replay does the owed kicks; past its failure limit the wave
 * pauses as unreachable, which is what a rollback that cannot end sessions must do.
 */
export function kickOwed(failure: FailureOutcome, elapsedMs: number): FailureOutcome {
  const why = 'detail' in failure ? failure.detail : failure.kind;
  const detail = `access written, sessions not revoked: ${why ?? 'doveadm failed'}`;
  return retryable('upstream_error', undefined, true, detail, failure.latencyMs + elapsedMs);
}
