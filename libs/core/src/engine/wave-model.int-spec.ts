import fc from 'fast-check';
import { countersFromTruth, createEngineHarness, EngineHarness, pollUntil } from '@app/testing';
import { DomainError } from '../errors';
import { OperationService } from '../support/operation.service';

/**
 * Property: whatever sequence of ops and support commands hits a small running wave (start, pause, resume,
 * cancel, rollback, support enable/disable), after every command the counters equal the SQL truth (read in one
 * snapshot), no account that must stay held is open at the mailstore, and no account is changed twice in one
 * direction; at the end every member has exactly one terminal outcome.
 */
describe('wave model (fast-check over real services)', () => {
  let h: EngineHarness;
  let support: OperationService;
  let next = 1;
  const MEMBERS = 120;

  beforeAll(async () => {
    h = await createEngineHarness('model', { accounts: 3000 });
    await h.importPopulation({ count: 3000, seed: 61, leakedShare: 0.15 });
    await h.startWorker();
    support = new OperationService(h.db.dataSource, h.producer, new Date(h.config.INCIDENT_AT));
  });
  afterAll(async () => {
    await h.close();
  });

  type Command =
    | { kind: 'pause' | 'resume' | 'cancel' | 'rollback' | 'wait' }
    | { kind: 'support'; member: number; enable: boolean };
  const command: fc.Arbitrary<Command> = fc.oneof(
    fc.constantFrom<Command>(
      { kind: 'pause' },
      { kind: 'resume' },
      { kind: 'cancel' },
      { kind: 'rollback' },
      { kind: 'wait' },
    ),
    fc.record({
      kind: fc.constant('support' as const),
      member: fc.integer({ min: 0, max: MEMBERS - 1 }),
      enable: fc.boolean(),
    }),
  );

  async function snapshotInvariant(waveId: string): Promise<void> {
    const runner = h.db.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction('REPEATABLE READ');
      const rows = await runner.query(`SELECT name, value FROM wave_counters WHERE wave_id = $1 AND value <> 0`, [
        waveId,
      ]);
      const counters = Object.fromEntries(
        (rows as { name: string; value: string }[]).map((r) => [r.name, Number(r.value)]),
      );
      const truth = await countersFromTruth(runner, waveId);
      await runner.commitTransaction();
      expect(counters).toEqual(truth);
    } finally {
      await runner.release();
    }
  }

  it('keeps the invariants under random command sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 2, maxLength: 8 }), async (commands) => {
        const logins = Array.from({ length: MEMBERS }, () => `user${next++}@example.test`);
        const wave = await h.commands.create(
          {
            name: 'model',
            selector: { type: 'logins', logins },
            protocols: ['imap', 'pop3'],
            ratePerSecond: 600,
            batchSize: 10,
          },
          'ops:test',
        );
        await h.commands.start(wave.id, 'ops:test');
        for (const c of commands) {
          try {
            if (c.kind === 'wait') await new Promise((r) => setTimeout(r, 150));
            else if (c.kind === 'support')
              await support.request(
                logins[c.member],
                c.enable ? 'enable' : 'disable',
                { reason: 'model', ticket: 'T-1' },
                'support:test',
              );
            else await h.commands[c.kind](wave.id, 'ops:test');
          } catch (err) {
            // Illegal transitions are part of the model: refused with 409, nothing changes.
            if (!(err instanceof DomainError) || err.status !== 409) throw err;
          }
          await snapshotInvariant(wave.id);
        }
        // Bring the wave to rest: stop it if it still runs, wait for every batch to settle.
        try {
          await h.commands.cancel(wave.id, 'ops:test');
        } catch (err) {
          if (!(err instanceof DomainError)) throw err;
        }
        await pollUntil(
          async () => {
            const c = await h.counters(wave.id);
            const [w] = await h.db.dataSource.query<{ state: string }[]>(`SELECT state FROM waves WHERE id = $1`, [
              wave.id,
            ]);
            return (
              (c.in_flight ?? 0) === 0 &&
              (c.pending ?? 0) === 0 &&
              (c['rollback:in_flight'] ?? 0) === 0 &&
              w.state !== 'rolling_back'
            );
          },
          { timeoutMs: 30_000, description: 'wave at rest' },
        );
        await snapshotInvariant(wave.id);
        // Held back by the leaked password: never opened by the wave (support may open them explicitly).
        const held = await h.db.dataSource.query<{ login: string }[]>(
          `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
            WHERE m.wave_id = $1 AND m.reason = 'password_reset_required'`,
          [wave.id],
        );
        const waveCalls = h.sim.calls().filter((c) => c.endpoint === 'batch' && c.idempotencyKey?.includes(wave.id));
        for (const { login } of held) expect(waveCalls.some((c) => c.applied.includes(login))).toBe(false);
        // At most one applied change per account per direction.
        for (const dir of ['forward', 'rollback']) {
          const seen = new Map<string, number>();
          for (const c of waveCalls.filter((c) => c.idempotencyKey!.includes(`/${dir}/`))) {
            for (const a of c.applied) seen.set(a, (seen.get(a) ?? 0) + 1);
          }
          expect([...seen.values()].filter((n) => n > 1)).toEqual([]);
        }
      }),
      { numRuns: 10, endOnFailure: true },
    );
  }, 300_000);
});
