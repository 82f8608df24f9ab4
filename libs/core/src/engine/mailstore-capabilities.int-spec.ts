import { aWave, createEngineHarness, EngineHarness, loginRange, pollUntil } from '@app/testing';
import { WaveQueryService } from '../waves/wave-query.service';
import { simNow } from '@app/mailstore-sim';

/** Request budgets far above what these tests send: only the account-update budget matters here. */
const REQUESTS = { requestsPerSecond: 10_000, requestBurst: 10_000 };

/** The recorded row (what the preview reads). */
async function recorded(h: EngineHarness): Promise<{ rate: number; limit: number; readAt: Date } | undefined> {
  const [row] = await h.db.dataSource.query<
    { account_updates_per_second: number; batch_size_limit: number; read_at: Date }[]
  >(`SELECT account_updates_per_second, batch_size_limit, read_at FROM mailstore_capabilities`);
  return row && { rate: Number(row.account_updates_per_second), limit: row.batch_size_limit, readAt: row.read_at };
}

/**
 * The mailstore's capabilities, as the worker reads them again and records them (issue 18): the preview describes
 * the batches the engine sends, and a lower advertised rate is learned without waiting for 429s.
 */
describe("the mailstore's capabilities (real services, simulator)", () => {
  describe('read at start and after a 429 (no periodic read during the test)', () => {
    let h: EngineHarness;
    beforeAll(async () => {
      h = await createEngineHarness(
        'caps',
        { accounts: 200, rateLimits: { ...REQUESTS, accountUpdatesPerSecond: 20, accountUpdateBurst: 3 } },
        { CAPABILITIES_REFRESH_MS: '3600000' },
      );
      await h.importPopulation({ count: 200, seed: 29, leakedShare: 0 });
      await h.startWorker();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('the preview says the batch size and the number of calls the engine then makes (a small update burst)', async () => {
      await pollUntil(() => recorded(h), { description: 'capabilities recorded by the worker' });
      const logins = loginRange(1, 20);
      const wave = await aWave('burst 3').logins(logins).protocols('imap').rate(100).batchSize(10).create(h);
      const preview = await new WaveQueryService(h.db.dataSource, new Date(h.config.INCIDENT_AT)).preview(wave.id);
      expect(preview).toMatchObject({
        eligible: 20,
        batchSize: 3, // min(10, a tenth of 100/s, the burst of 3)
        batches: 7,
        mailstore: { batchSizeLimit: 3, accountUpdatesPerSecond: 20 },
        projectedDuration: { sendingSeconds: 1 }, // 20 accounts at the mailstore's 20/s (the wave asks 100/s)
      });
      await h.commands.start(wave.id, 'ops:test');
      await h.untilWaveState(wave.id, 'completed', { timeoutMs: 30_000 });
      const answered = h.batchCalls(wave.id).filter((c) => c.status === 200);
      expect(answered).toHaveLength(preview.batches);
      expect(Math.max(...answered.map((c) => c.accounts.length))).toBe(preview.batchSize);
    }, 60_000);

    it('a 429 makes the worker read the capabilities again at once: the lower rate is recorded and paces', async () => {
      const before = (await recorded(h))!;
      h.sim.setRateLimits({ ...REQUESTS, accountUpdatesPerSecond: 4, accountUpdateBurst: 2 });
      // Only a 429 can tell the worker (its periodic read is an hour away); the next call gets one from the burst.
      const wave = await aWave('lower rate').logins(loginRange(101, 130)).protocols('imap').rate(50).started(h);
      const first429 = await pollUntil(() => h.batchCalls(wave.id).find((c) => c.status === 429), {
        description: 'a 429',
        timeoutMs: 10_000,
      });
      const after = await pollUntil(
        async () => {
          const r = await recorded(h);
          return r && r.readAt > before.readAt && r;
        },
        { description: 'capabilities read again', timeoutMs: 3_000 },
      );
      expect(after).toMatchObject({ rate: 4, limit: 2 });
      expect(after.readAt.getTime() - first429.startedAt).toBeLessThan(2_000);
      await h.untilWaveState(wave.id, 'completed', { timeoutMs: 30_000 });
      // Batches claimed after the read carry at most 2 accounts (the new burst; those claimed before are resent as
      // they were).
      const sizes = await h.db.dataSource.query<{ id: string; size: number }[]>(
        `SELECT id, size FROM wave_batches WHERE wave_id = $1 AND created_at > $2::timestamptz + interval '300 milliseconds' ORDER BY id`,
        [wave.id, after.readAt],
      );
      const fresh = sizes.filter((b) => b.size > 0);
      expect(Math.max(...fresh.map((b) => b.size))).toBeLessThanOrEqual(2);
    }, 60_000);
  });

  describe('read periodically (CAPABILITIES_REFRESH_MS)', () => {
    let h: EngineHarness;
    beforeAll(async () => {
      h = await createEngineHarness('caps-timer', { accounts: 200 }, { CAPABILITIES_REFRESH_MS: '1000' });
      await h.importPopulation({ count: 200, seed: 31, leakedShare: 0 });
      await h.startWorker();
    });
    afterAll(async () => {
      await h?.close();
    });

    it('a mailstore that advertises a lower rate at runtime is paced by it without a 429', async () => {
      const wave = await aWave('slowed').logins(loginRange(1, 120)).protocols('imap').rate(40).started(h);
      await h.untilCounters(wave.id, (c) => (c.enabled ?? 0) >= 20, { description: 'the wave running' });
      // A burst of 8 leaves the machine's timing some slack around batches of 4 at 5/s.
      h.sim.setRateLimits({ ...REQUESTS, accountUpdatesPerSecond: 5, accountUpdateBurst: 8 });
      const changedAt = simNow();
      const seen = await pollUntil(async () => (await recorded(h))?.rate === 5 && performance.now(), {
        description: 'the new rate recorded',
      });
      expect(performance.timeOrigin + seen - changedAt).toBeLessThan(2_500); // one 1 s period, and the read
      // Once read (and the slots booked before it, a few hundred ms, have passed): paced at 5/s, no 429.
      const from = performance.timeOrigin + seen + 1_000;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      const calls = h.batchCalls(wave.id).filter((c) => c.startedAt > from);
      const accounts = calls.filter((c) => c.status === 200).reduce((n, c) => n + c.accounts.length, 0);
      const seconds = (simNow() - from) / 1000;
      expect(calls.filter((c) => c.status === 429)).toEqual([]);
      // A window of whole seconds holds one more batch start or one fewer depending on where the slots fall: one
      // batch of slack (at 5/s over ~4 s, 24 accounts in six batches of 4 was a correct pace read as 6/s).
      const largest = Math.max(...calls.map((c) => c.accounts.length));
      expect(accounts).toBeLessThanOrEqual(5 * 1.1 * seconds + largest);
      expect(accounts).toBeGreaterThan(0);
      await h.commands.cancel(wave.id, 'ops:test');
    }, 60_000);
  });
});
