/**
 * A timer's round that never overlaps the one before it: a tick while a round runs is skipped (not queued), so a
 * slow dependency (PostgreSQL or Redis away for minutes) never piles rounds up that all run when it returns.
 * `settled()` is the round in progress, for shutdown. The reconcile and gate timers both use it.
 */
export function singleFlight(round: () => Promise<unknown>): { tick(): void; settled(): Promise<unknown> } {
  let current: Promise<unknown> | undefined;
  return {
    tick() {
      if (current) return;
      current = round().finally(() => (current = undefined));
    },
    settled: () => current ?? Promise.resolve(),
  };
}
