/**
 * Client-side pacing against the simulator's real rate limiter: with pacing, a burst of concurrent calls
 * stays within the advertised budgets (no 429); without it, the same burst is throttled.
 */
import { startSimulator, type CallLogEntry, type RunningSimulator } from '@app/mailstore-sim';
import { MailstoreClient } from './mailstore.client';

const LIMITS = { requestsPerSecond: 10, requestBurst: 5, accountUpdatesPerSecond: 40, accountUpdateBurst: 20 };
let sim: RunningSimulator;
const clients: MailstoreClient[] = [];

beforeEach(async () => {
  sim = await startSimulator({ accounts: 100, rateLimits: LIMITS });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await sim.close();
});

/**
 * SAFETY: a wider margin than production's 0.9, so that scheduling jitter on a loaded 2-core CI machine (two
 * Jest workers, worker processes) cannot bunch paced requests into a 429; the rule under test is unchanged.
 */
const SAFETY = 0.7;

function client(pacing: 'advertised' | 'off'): MailstoreClient {
  const c = new MailstoreClient({ baseUrl: sim.baseUrl, token: 'sim-token', pacing, pacingSafetyFactor: SAFETY });
  clients.push(c);
  return c;
}

/** Most calls that started within any window of `ms`. */
function peak(calls: CallLogEntry[], ms: number): number {
  const starts = calls.map((c) => c.startedAt).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[i] - starts[j] >= ms) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('pacing', () => {
  it('keeps requests/s within the advertised limits: 25 concurrent GETs, no 429', async () => {
    const c = client('advertised');
    expect((await c.capabilities()).kind).toBe('ok');
    const since = Math.max(0, ...sim.calls().map((x) => x.seq));
    const outs = await Promise.all(Array.from({ length: 25 }, (_, i) => c.getAccess(`user${i + 1}@example.test`)));
    expect(outs.map((o) => o.kind)).toEqual(Array(25).fill('ok'));
    const calls = sim.calls(since).filter((x) => x.endpoint === 'get');
    expect(calls).toHaveLength(25);
    expect(calls.filter((x) => x.status === 429)).toHaveLength(0);
    // Burst then 7/s (0.7 × 10): 25 calls take at least (25 - 5) / 10 s even at the full rate.
    const span = calls[calls.length - 1].startedAt - calls[0].startedAt;
    expect(span).toBeGreaterThanOrEqual(2_000);
    expect(peak(calls, 1_000)).toBeLessThanOrEqual(LIMITS.requestBurst + LIMITS.requestsPerSecond);
  });

  it('charges a batch of N as N account updates: 5 batches of 20 at 40 updates/s, no 429', async () => {
    const c = client('advertised');
    await c.capabilities();
    expect(c.batchSizeLimit()).toBe(20);
    const batches = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 20 }, (_, i) => ({
        account: `user${b * 20 + i + 1}@example.test`,
        protocols: { imap: true },
      })),
    );
    const outs = await Promise.all(batches.map((items, b) => c.batch(items, {}, { idempotencyKey: `pace-${b}` })));
    expect(outs.map((o) => o.kind)).toEqual(Array(5).fill('ok'));
    const calls = sim.calls().filter((x) => x.endpoint === 'batch');
    expect(calls.filter((x) => x.status === 429)).toHaveLength(0);
    // 100 updates, burst 14 (0.7 × 20), then 28/s: the last batch starts ≥ (100 - 20 - 14) / 28 s after the first.
    expect(calls[calls.length - 1].startedAt - calls[0].startedAt).toBeGreaterThanOrEqual(2_300);
  });

  it('without pacing the same burst meets 429s (the limiter is real)', async () => {
    const c = client('off');
    await c.capabilities();
    const outs = await Promise.all(Array.from({ length: 25 }, (_, i) => c.getAccess(`user${i + 1}@example.test`)));
    const limited = outs.filter((o) => o.kind === 'rate_limited');
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]).toMatchObject({ status: 429, limit: 'requests' });
    expect(limited[0].kind === 'rate_limited' && limited[0].retryAfterMs).toBeGreaterThanOrEqual(1_000);
  });
});
