import { aWave, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';
import { ProgressService } from '../progress';
import { simNow } from '@app/mailstore-sim';

const LEASE_MS = 15_000;

/**
 * A batch kept with its key when its wave is paused after an attempt (issue 18): while paused, progress shows its
 * members waiting for a retry, not in flight; a resume retries it at once (not once its lease has expired), as it
 * was: in doubt (a 500) under the same key, or decided again (a 429 applied nothing) with the same members, so the
 * same body under the same key (contract section 5: a 429 is not stored, retry with the same key).
 */
describe('a batch kept for its retry across a pause (real services, simulator)', () => {
  let h: EngineHarness;
  let progress: ProgressService;
  beforeAll(async () => {
    h = await createEngineHarness('kept-batch', { accounts: 60 }, { BATCH_LEASE_MS: String(LEASE_MS) });
    await h.importPopulation({ count: 60, seed: 23, leakedShare: 0 });
    await h.startWorker();
    progress = new ProgressService(h.db.dataSource);
  });
  afterEach(() => h.sim.setFaults({}));
  afterAll(async () => {
    await h?.close();
  });

  it.each([
    ['429', 'decided again, the same body: the same key'],
    ['500', 'in doubt: the same key'],
  ] as const)(
    'after a %s just before a pause: shown waiting, resent at once on resume (%s)',
    async (fault, _why) => {
      const base = fault === '429' ? 1 : 11;
      const logins = [base, base + 1, base + 2].map((n) => `user${n}@example.test`);
      // The answer leaves the mailstore 1 s after the call arrives: the pause below commits before it, so a 500's
      // retry (0–500 ms of backoff, full jitter) cannot come before the pause.
      h.sim.setFaults({ script: [fault], retryAfterSeconds: 2, endpoints: ['batch'], latencyMs: 1_000 });
      const wave = await aWave(`kept ${fault}`).logins(logins).protocols('imap').rate(100).started(h);
      await pollUntil(() => h.batchCalls(wave.id).length > 0, { description: 'the refused call' });
      await h.commands.pause(wave.id, 'ops:test');
      // The pump finds the wave paused at its next pace check and keeps the batch for its retry.
      const paused = await pollUntil(
        async () => {
          const p = await progress.wave(wave.id);
          return p.counts.awaiting_retry === 3 && p;
        },
        { description: 'members shown waiting for a retry', timeoutMs: 5_000 },
      );
      expect(paused.counts).toMatchObject({ in_flight: 0, awaiting_retry: 3, pending: 0 });
      // Past the Retry-After: nothing but the lease could still delay the retry.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(h.batchCalls(wave.id)).toHaveLength(1);

      const resumedAt = simNow();
      await h.commands.resume(wave.id, 'ops:test');
      const retry = await pollUntil(() => h.batchCalls(wave.id)[1], { description: 'the retry', timeoutMs: 30_000 });
      const delayMs = retry.startedAt - resumedAt;
      expect(delayMs).toBeLessThan(3_000); // the lease is 15 s
      await h.untilWaveState(wave.id, 'completed', { timeoutMs: 20_000 });

      const [first] = h.batchCalls(wave.id);
      expect(retry.accounts).toEqual(first.accounts);
      expect(retry.idempotencyKey).toBe(first.idempotencyKey);
      expect((await progress.wave(wave.id)).counts).toMatchObject({ in_flight: 0, awaiting_retry: 0, enabled: 3 });
      console.log(`issue 18 item 3: ${fault} then pause, resume → retry after ${Math.round(delayMs)} ms`);
    },
    60_000,
  );
});
