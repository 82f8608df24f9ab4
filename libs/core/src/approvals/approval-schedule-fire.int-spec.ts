import { DateTime } from 'luxon';
import { aWave, createEngineHarness, EngineHarness, loginAllocator, pollUntil } from '@app/testing';
import { ApiKeyService } from '../auth';
import { buildCoreServices, CoreServices } from '../core-graph';
import { ApprovalRequiredError } from '../errors';

/*
 * A wave scheduled under a second key's approval fires later, by itself (docs/approvals.md). Its fire checks the plan
 * and the counts again, in its own transaction: moved since the approval (accounts held or imported, a plan changed
 * behind the service), the wave does not start: it goes back to draft, audited `wave.schedule_refused` with what moved
 * (an outbox event). An approved change of the scheduled wave, or an unchanged one, starts. Real PostgreSQL, Redis, the
 * worker's own fire (the delayed job, the reconciler), the simulator.
 */
const ALICE = { actor: 'ops:alice', key: 'key-alice' };
const BOB = { actor: 'ops:bob', key: 'key-bob', role: 'ops' };

describe('a scheduled start re-checks its approval when it fires (real PostgreSQL, Redis, worker)', () => {
  let h: EngineHarness;
  let s: CoreServices;
  const logins = loginAllocator();
  beforeAll(async () => {
    h = await createEngineHarness('approval-fire', { accounts: 300 }, { APPROVAL_REQUIRED_FOR: 'start' });
    await h.importPopulation({ count: 200, seed: 17, leakedShare: 0 });
    s = buildCoreServices(h.db.dataSource, h.producer, h.config);
  });
  afterAll(async () => {
    await h?.close();
  });

  // Due already: the worker fires it as soon as it runs (the fire's own lateness is no matter here).
  const past = DateTime.now().setZone('Europe/Paris').minus({ minutes: 2 }).toFormat("yyyy-MM-dd'T'HH:mm");
  const approvalIdOf = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApprovalRequiredError);
    return (err as ApprovalRequiredError).extra.approvalId as string;
  };
  /** Scheduled by alice once bob approved it. */
  const scheduledWave = async (name: string, accounts: string[], approver = BOB) => {
    const wave = await aWave()
      .name(name)
      .logins(accounts)
      .protocols('imap')
      .rate(500)
      .schedule(past, 'Europe/Paris')
      .create(h, ALICE.actor);
    const request = await approvalIdOf(s.commands.schedule(wave.id, ALICE.actor, ALICE.key));
    await s.approvals.approve(request, approver, 'checked the preview');
    expect(await s.commands.schedule(wave.id, ALICE.actor, ALICE.key)).toMatchObject({ state: 'scheduled' });
    return { id: wave.id, approvalId: request };
  };
  const audits = (action: string, waveId: string) =>
    h.db.dataSource.query<{ actor: string; detail: Record<string, unknown> }[]>(
      `SELECT actor, detail FROM audit_log WHERE action = $1 AND wave_id = $2 ORDER BY id`,
      [action, waveId],
    );
  const waveRow = async (id: string) =>
    (
      await h.db.dataSource.query<{ state: string; member_count: number | null; schedule_fired_at: Date | null }[]>(
        `SELECT state, member_count, schedule_fired_at FROM waves WHERE id = $1`,
        [id],
      )
    )[0];
  const fired = (id: string) =>
    pollUntil(async () => (await waveRow(id)).schedule_fired_at !== null, {
      timeoutMs: 30_000,
      intervalMs: 100,
      description: 'its schedule fired',
    });
  const refused = (id: string) =>
    pollUntil(async () => (await audits('wave.schedule_refused', id)).length > 0, {
      timeoutMs: 30_000,
      intervalMs: 100,
      description: 'its schedule refused',
    });

  it('starts nothing on a stale approval: held, imported, changed behind; starts the unchanged and the approved change', async () => {
    const unchanged = await scheduledWave('unchanged', logins(20));
    const heldScope = logins(20);
    const held = await scheduledWave('held', heldScope);
    // Ten accounts and two not imported yet, imported after the approval: two more eligible.
    const importedScope = [...logins(10), 'user201@example.test', 'user202@example.test'];
    const imported = await scheduledWave('imported', importedScope);
    const behind = await scheduledWave('changed behind', logins(20));
    const approvedChange = await scheduledWave('approved change', logins(20));
    // Approved by a key revoked since (it leaked): the start it vouched for has not happened yet.
    const keys = new ApiKeyService(h.db.owner);
    const ivan = await keys.create('ops', 'ivan');
    const revoked = await scheduledWave('approved by a revoked key', logins(20), {
      actor: 'ops:ivan',
      key: ivan.id,
      role: 'ops',
    });
    await keys.revoke(ivan.id, 'cli');

    // Accounts held by support after the approval: the preview's counts moved.
    await h.support().setHold(heldScope[3], true, { reason: 'owner unreachable', ticket: 'INC-7' }, 'support:carol');
    await h.importPopulation({ count: 210, seed: 17, leakedShare: 0 });
    // A plan changed behind the service (no API path does it under `start`): the fire sees it all the same.
    await h.db.owner.query(`UPDATE waves SET rate_per_second = 900 WHERE id = $1`, [behind.id]);
    // Under `start`, a change of a scheduled wave needs a second key too; approved, the start fires on it.
    const change = await approvalIdOf(s.commands.update(approvedChange.id, { batchSize: 50 }, ALICE.actor, ALICE.key));
    await s.approvals.approve(change, BOB, null);
    await s.commands.update(approvedChange.id, { batchSize: 50 }, ALICE.actor, ALICE.key);

    await h.startWorker();
    await Promise.all([fired(unchanged.id), fired(approvedChange.id)]);
    await Promise.all([held, imported, behind, revoked].map((w) => refused(w.id)));

    for (const w of [unchanged, approvedChange]) {
      expect((await waveRow(w.id)).member_count).toBe(20);
      expect(await audits('wave.fire_schedule', w.id)).toHaveLength(1);
    }
    const expected: [typeof held, string[]][] = [
      [held, ['counts.eligible', 'counts.eligibleDigest', 'counts.heldBack.held']],
      [imported, ['counts.eligible', 'counts.eligibleDigest']],
      [behind, ['plan.rate_per_second']],
      [revoked, ['approval']],
    ];
    for (const [w, fields] of expected) {
      const row = await waveRow(w.id);
      expect(row).toMatchObject({ state: 'draft', member_count: null, schedule_fired_at: null });
      expect(await audits('wave.fire_schedule', w.id)).toEqual([]);
      const [audit] = await audits('wave.schedule_refused', w.id);
      expect(audit.actor).toBe('scheduler');
      expect(audit.detail).toMatchObject({ reason: 'approval_stale', approvalId: w.approvalId });
      expect((audit.detail.changes as { field: string }[]).map((c) => c.field).sort()).toEqual(fields);
      // The channel hears it: the outbox has the event (kind wave.schedule_refused).
      const events = await h.db.dataSource.query<{ kind: string }[]>(
        `SELECT kind FROM notification_events WHERE wave_id = $1 AND kind = 'wave.schedule_refused'`,
        [w.id],
      );
      expect(events).toHaveLength(1);
    }
    expect((await audits('wave.schedule_refused', behind.id))[0].detail.changes).toEqual([
      { field: 'plan.rate_per_second', before: 500, after: 900 },
    ]);
    // Scheduled again, it needs a new approval (bound to what is there now).
    const again = await approvalIdOf(s.commands.schedule(held.id, ALICE.actor, ALICE.key));
    expect(again).not.toBe(held.approvalId);
  });
});
