/** What an engine bench reads back: the wave's row and counters, per-batch timings, the simulator's call log. */
import { DataSource } from 'typeorm';
import { countersDiff, countersFromTruth, pollUntil, readCounters } from '@app/testing';
import { epochMs, round } from './engine-bench-utils';

export interface WaveRow {
  state: string;
  status_reason: string | null;
  started_at: Date | null;
  completed_at: Date | null;
  member_count: number | null;
}

export async function waveRow(ds: DataSource, id: string): Promise<WaveRow> {
  const [w] = await ds.query<WaveRow[]>(
    `SELECT state, status_reason, started_at, completed_at, member_count FROM waves WHERE id = $1`,
    [id],
  );
  return w;
}

/**
 * Forward counters only (rollback counters are not concerned here), compared with the truth recomputed from
 * wave_members: the tests' definition (libs/testing/src/wave-counters.ts), restricted to the forward names.
 */
export async function checkCounters(
  ds: DataSource,
  waveId: string,
): Promise<{ exact: boolean; counters: Record<string, number>; truth: Record<string, number> }> {
  const forward = (c: Record<string, number>) =>
    Object.fromEntries(Object.entries(c).filter(([k]) => !k.startsWith('rollback')));
  const counters = forward(await readCounters(ds, waveId));
  const truth = forward(await countersFromTruth(ds, waveId));
  return { exact: Object.keys(countersDiff(counters, truth)).length === 0, counters, truth };
}

/** Polls the wave's row until `done` says so (pollUntil), and returns that row. */
export function waitForWave(
  ds: DataSource,
  id: string,
  done: (w: WaveRow) => boolean,
  timeoutMs: number,
  pollMs = 50,
): Promise<WaveRow> {
  return pollUntil(
    async () => {
      const w = await waveRow(ds, id);
      return done(w) && w;
    },
    { timeoutMs, intervalMs: pollMs, description: `wave ${id} done` },
  );
}

/**
 * Per-batch timing from the service's own records (no engine change needed): wave_batches.created_at is the claim
 * transaction's start; lease_until − lease is when the send permit ran (after the pace);
 * mailstore_calls.started_at the call start, + latency_ms its end; wave_batches.completed_at the settle
 * transaction's start. Medians and p95s in ms.
 */
export async function batchPhases(ds: DataSource, waveId: string, leaseMs = 15_000): Promise<Record<string, number>> {
  const [r] = await ds.query<Record<string, string | null>[]>(
    `WITH p AS (
       SELECT extract(epoch FROM (b.lease_until - make_interval(secs => $2 / 1000.0)) - b.created_at) * 1000 AS claim_to_attempt,
              extract(epoch FROM c.started_at - (b.lease_until - make_interval(secs => $2 / 1000.0))) * 1000 AS attempt_to_call,
              c.latency_ms AS call_ms,
              extract(epoch FROM b.completed_at - c.started_at) * 1000 - c.latency_ms AS answer_to_settle
         FROM wave_batches b JOIN mailstore_calls c ON c.batch_id = b.id AND c.wave_id = b.wave_id
        WHERE b.wave_id = $1 AND b.kind = 'forward' AND b.state = 'done' AND c.outcome = 'ok' AND b.attempts = 1)
     SELECT count(*) AS batches,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY claim_to_attempt) AS claim_to_attempt_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY claim_to_attempt) AS claim_to_attempt_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY attempt_to_call) AS attempt_to_call_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY attempt_to_call) AS attempt_to_call_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY call_ms) AS call_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY call_ms) AS call_p95,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY answer_to_settle) AS answer_to_settle_p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY answer_to_settle) AS answer_to_settle_p95
       FROM p`,
    [waveId, leaseMs],
  );
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(Number(v ?? 0), 1)]));
}

// ---------------------------------------------------------------------------------------------------------------
// The simulator's admin API

export interface SimCall {
  seq: number;
  startedAt: number;
  endedAt: number | null;
  endpoint: string;
  status: number;
  outcome: string;
  accounts: string[];
  /** Accounts whose state this call actually changed. */
  applied: string[];
  requestId: string | null;
}

export async function simLastSeq(adminUrl: string): Promise<number> {
  const res = await fetch(`${adminUrl}/calls?since=${Number.MAX_SAFE_INTEGER}&limit=1`);
  return ((await res.json()) as { lastSeq: number }).lastSeq;
}

/** Every logged call after `since`, paged (2,000 a page). */
export async function simCalls(adminUrl: string, since = 0): Promise<SimCall[]> {
  const out: SimCall[] = [];
  let cursor = since;
  for (;;) {
    const res = await fetch(`${adminUrl}/calls?since=${cursor}&limit=2000`);
    if (!res.ok) throw new Error(`GET /_sim/calls: HTTP ${res.status}`);
    const { calls } = (await res.json()) as { calls: SimCall[] };
    if (!calls.length) return out;
    out.push(...calls);
    cursor = calls[calls.length - 1].seq;
  }
}

/**
 * The simulator's batch calls of the last second, followed from a sequence number: how a bench sees that a wave runs
 * at full speed before it measures a pause or a halt.
 */
export class RecentBatchCalls {
  /** Batch calls started within the last second (as of the last poll), oldest first. */
  readonly calls: SimCall[] = [];

  private constructor(
    private readonly adminUrl: string,
    /** The sequence number of the last batch call read: later calls are the ones after it. */
    public seq: number,
  ) {}

  static async follow(adminUrl: string): Promise<RecentBatchCalls> {
    return new RecentBatchCalls(adminUrl, await simLastSeq(adminUrl));
  }

  /** Reads the calls since the last poll and forgets those older than a second; returns their accounts (per s). */
  async poll(): Promise<number> {
    const calls = (await simCalls(this.adminUrl, this.seq)).filter((c) => c.endpoint === 'batch');
    if (calls.length) this.seq = calls[calls.length - 1].seq;
    this.calls.push(...calls);
    const since = epochMs() - 1000;
    while (this.calls.length && this.calls[0].startedAt < since) this.calls.shift();
    return this.calls.reduce((a, c) => a + c.accounts.length, 0);
  }
}

export async function simAccount(
  adminUrl: string,
  login: string,
): Promise<{ protocols: { imap: boolean; pop3: boolean }; version: number; updatedAt: string }> {
  const res = await fetch(`${adminUrl}/accounts/${encodeURIComponent(login)}`);
  if (!res.ok) throw new Error(`GET /_sim/accounts/${login}: HTTP ${res.status}`);
  return (await res.json()) as { protocols: { imap: boolean; pop3: boolean }; version: number; updatedAt: string };
}

export async function simReset(adminUrl: string, accounts: number): Promise<void> {
  const res = await fetch(`${adminUrl}/reset`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ accounts }),
  });
  if (!res.ok) throw new Error(`POST /_sim/reset: HTTP ${res.status}`);
}
