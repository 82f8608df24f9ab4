import type { OperationEntity } from '@app/db';
import { operationEnded } from '@app/domain';
import { pollUntil, PollOptions } from './poll-until';
import { Counters, Queryable, readCounters } from './wave-counters';

/**
 * Waiting for a wave, one way for every test: by its state, by its counters, until nothing of it is in flight. All
 * poll PostgreSQL with a deadline (pollUntil), never sleep for a guessed time.
 */

/** A wave's state and why it is in it (status_reason: `ops`, `gate:<name>`, `ramp_bake`…). */
export interface WaveStatus {
  state: string;
  status_reason: string | null;
}

export async function waveStatus(q: Queryable, waveId: string): Promise<WaveStatus> {
  const rows = (await q.query(`SELECT state, status_reason FROM waves WHERE id = $1`, [waveId])) as WaveStatus[];
  return rows[0];
}

/** Polls until the wave's state is `wanted` (or one of them); default deadline 30 s. */
export async function untilWaveState(
  q: Queryable,
  waveId: string,
  wanted: string | readonly string[],
  options: PollOptions = {},
): Promise<void> {
  const states = typeof wanted === 'string' ? [wanted] : wanted;
  await pollUntil(async () => states.includes((await waveStatus(q, waveId)).state), {
    timeoutMs: 30_000,
    description: `wave ${states.join('|')}`,
    ...options,
  });
}

/** Polls the wave's counters (zeros left out) until `done` says so. */
export async function untilCounters(
  q: Queryable,
  waveId: string,
  done: (c: Counters) => boolean,
  options: PollOptions = {},
): Promise<void> {
  await pollUntil(async () => done(await readCounters(q, waveId)), options);
}

/** Members with a forward outcome: enabled, skipped or failed. */
export const settledCount = (c: Counters): number => (c.enabled ?? 0) + (c.skipped ?? 0) + (c.failed ?? 0);

export interface AtRestOptions {
  /** Give up after this long (ms); default 20 s. */
  timeoutMs?: number;
  /** How long nothing may be in flight before it counts as at rest (ms); default 2 s. */
  quietMs?: number;
  /** Wait between tries while something is in flight (ms); default 250. */
  intervalMs?: number;
}

/**
 * At rest: no claimed batch, no member (or rollback) in flight, still so after every pump had time to notice a
 * command (a pump re-checks at least once a second: `quietMs`). Does not throw: what is left is the caller's check
 * to report.
 */
export async function waitAtRest(
  q: Queryable,
  waveId: string,
  { timeoutMs = 20_000, quietMs = 2000, intervalMs = 250 }: AtRestOptions = {},
): Promise<boolean> {
  const busy = async () => {
    const [r] = (await q.query(
      `SELECT (SELECT count(*) FROM wave_batches WHERE wave_id = $1 AND state = 'claimed')
            + (SELECT count(*) FROM wave_members WHERE wave_id = $1
                  AND (state = 'in_flight' OR rollback_state = 'in_flight')) AS n`,
      [waveId],
    )) as { n: string }[];
    return Number(r.n) > 0;
  };
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await busy())) {
      await sleep(quietMs);
      if (!(await busy())) return true;
    } else await sleep(intervalMs);
  }
  return false;
}

/** How many times the mailstore applied a change to each account, over these calls (`keep`: the logins to count). */
export function appliedCounts(
  calls: Iterable<{ applied: readonly string[] }>,
  keep: (login: string) => boolean = () => true,
): Map<string, number> {
  const applied = new Map<string, number>();
  for (const c of calls) for (const a of c.applied) if (keep(a)) applied.set(a, (applied.get(a) ?? 0) + 1);
  return applied;
}

/** Polls a support operation until it succeeded or failed, and returns it; default deadline 10 s. */
export async function untilOperationDone(
  support: { get(id: string): Promise<OperationEntity> },
  id: string,
  options: PollOptions = {},
): Promise<OperationEntity> {
  return pollUntil(
    async () => {
      const op = await support.get(id);
      return operationEnded(op.state) ? op : undefined;
    },
    { description: `operation ${id} done`, ...options },
  );
}
