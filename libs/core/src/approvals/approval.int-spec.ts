import { DateTime } from 'luxon';
import { Gate, populationLogin, TimeWindows } from '@app/domain';
import { aWave, createEngineHarness, EngineHarness } from '@app/testing';
import { ApiKeyService } from '../auth';
import { buildCoreServices, CoreServices } from '../core-graph';
import { ApprovalRequiredError } from '../errors';

/*
 * Two-person approval against the real PostgreSQL and Redis (docs/approvals.md). The deployment asks a second ops key
 * for a resume after a halt, a rollback, a rate above 1000/s and a support override; waves that say so also for their start or schedule.
 * Keys: alice requests, bob approves (identities are key ids: the API passes the caller's).
 */
const ALICE = { actor: 'ops:alice', key: 'key-alice' };
const BOB = { actor: 'ops:bob', key: 'key-bob', role: 'ops' };

describe('two-person approval (real PostgreSQL, Redis)', () => {
  let h: EngineHarness;
  let s: CoreServices;
  beforeAll(async () => {
    h = await createEngineHarness(
      'approvals',
      { accounts: 300 },
      { APPROVAL_REQUIRED_FOR: 'resume_after_halt,rollback,raise_rate,support_override', APPROVAL_RATE_BOUND: '1000' },
    );
    await h.importPopulation({ count: 200, seed: 9 });
    s = buildCoreServices(h.db.dataSource, h.producer, h.config);
  });
  afterAll(async () => {
    await h?.close();
  });

  const future = DateTime.now().setZone('Europe/Paris').plus({ days: 2 }).toFormat("yyyy-MM-dd'T'HH:mm");
  const guarded = (name: string) =>
    aWave()
      .name(name)
      .cohorts('general')
      .protocols('imap')
      .rate(500)
      .schedule(future, 'Europe/Paris')
      .approvalPolicy({ require: ['start'] });

  /** The command's refusal: its approval request. */
  async function refusal(p: Promise<unknown>): Promise<ApprovalRequiredError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApprovalRequiredError);
    return err as ApprovalRequiredError;
  }
  const approvalId = (e: ApprovalRequiredError) => e.extra.approvalId as string;
  const row = async (id: string) =>
    (
      await h.db.dataSource.query<
        { state: string; ended_reason: string | null; decided_by: string | null; rule: string }[]
      >(`SELECT state, ended_reason, decided_by, rule FROM approvals WHERE id = $1`, [id])
    )[0];
  const audits = (action: string, waveId: string) =>
    h.db.dataSource.query<{ actor: string; detail: Record<string, unknown> }[]>(
      `SELECT actor, detail FROM audit_log WHERE action = $1 AND wave_id = $2 ORDER BY id`,
      [action, waveId],
    );
  const state = async (waveId: string) => (await h.waveStatus(waveId)).state;

  it('holds a schedule for a second key, refuses the requester, then schedules once approved', async () => {
    const wave = await guarded('schedule').create(h, ALICE.actor);
    const first = await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key));
    expect(first.extra).toMatchObject({ rule: 'start', command: 'schedule', waveId: wave.id });
    expect(await state(wave.id)).toBe('draft');
    // Sent again: the same open request, not a second one.
    expect(approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)))).toBe(approvalId(first));

    await expect(s.approvals.approve(approvalId(first), { ...ALICE, role: 'ops' }, null)).rejects.toMatchObject({
      code: 'self_approval',
      kind: 'forbidden',
    });
    expect((await row(approvalId(first))).state).toBe('pending');

    const given = await s.approvals.approve(approvalId(first), BOB, 'checked the preview');
    expect(given).toMatchObject({ state: 'approved', decidedBy: 'ops:bob', note: 'checked the preview' });
    const result = await s.commands.schedule(wave.id, ALICE.actor, ALICE.key);
    expect(result).toMatchObject({ from: 'draft', state: 'scheduled' });
    expect(await row(approvalId(first))).toMatchObject({ state: 'executed', decided_by: 'ops:bob' });

    const requested = await audits('approval.requested', wave.id);
    expect(requested).toHaveLength(1);
    expect(requested[0].detail).toMatchObject({ approvalId: approvalId(first), waveId: wave.id, command: 'schedule' });
    expect((await audits('approval.given', wave.id))[0]).toMatchObject({
      actor: 'ops:bob',
      detail: { approvalId: approvalId(first), waveId: wave.id, command: 'schedule' },
    });
    expect((await audits('wave.schedule', wave.id))[0].detail).toMatchObject({ approvalId: approvalId(first) });
    // Scheduled, it starts by itself on the plan a second key saw: changing that plan needs one again.
    const change = await refusal(s.commands.update(wave.id, { ratePerSecond: 400 }, ALICE.actor, ALICE.key));
    expect(change.extra).toMatchObject({ rule: 'start', command: 'update' });
    expect((await s.waves.get(wave.id)).ratePerSecond).toBe(500);
    // Used once: unscheduling and scheduling again asks again.
    await s.commands.unschedule(wave.id, ALICE.actor, ALICE.key);
    expect(approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)))).not.toBe(approvalId(first));
  });

  it("refuses the requester's other keys: a second ops key of the same name, the ops key of the support requester", async () => {
    const wave = await guarded('same person').create(h, ALICE.actor);
    const request = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    const aliceAgain = { actor: 'ops:alice', key: 'key-alice-rotated', role: 'ops' };
    await expect(s.approvals.approve(request, aliceAgain, null)).rejects.toMatchObject({ code: 'self_approval' });
    expect(await row(request)).toMatchObject({ state: 'pending', decided_by: null });
    await s.approvals.approve(request, BOB, null);
    expect((await row(request)).state).toBe('approved');

    const [leaked] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE leaked AND NOT held AND (password_changed_at IS NULL OR password_changed_at <= $1)
        ORDER BY id DESC LIMIT 1`,
      [h.config.INCIDENT_AT],
    );
    const input = { reason: 'customer on the phone', ticket: 'SUP-10', override: true };
    const override = approvalId(
      await refusal(s.operations.request(leaked.login, 'enable', input, 'support:dave', 'key-dave-support')),
    );
    const daveOps = { actor: 'ops:dave', key: 'key-dave-ops', role: 'ops' };
    await expect(s.approvals.approve(override, daveOps, null)).rejects.toMatchObject({ code: 'self_approval' });
    expect(await row(override)).toMatchObject({ state: 'pending', decided_by: null });
  });

  it('revoking a key ends its open requests and the approvals it gave that are not used yet', async () => {
    // Keys are the owner's to make and revoke (the CLI's create-api-key, revoke-api-key).
    const keys = new ApiKeyService(h.db.owner);
    const grace = await keys.create('ops', 'grace');
    const heidi = await keys.create('ops', 'heidi');
    const requested = await guarded('requested by a revoked key').create(h, 'ops:grace');
    const asked = approvalId(await refusal(s.commands.start(requested.id, 'ops:grace', grace.id)));
    const approvedWave = await guarded('approved by a revoked key').create(h, ALICE.actor);
    const given = approvalId(await refusal(s.commands.start(approvedWave.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(given, { actor: 'ops:heidi', key: heidi.id, role: 'ops' }, null);

    await keys.revoke(grace.id, 'cli');
    await keys.revoke(heidi.id, 'cli');
    expect(await row(asked)).toMatchObject({ state: 'invalidated', ended_reason: 'key_revoked' });
    expect(await row(given)).toMatchObject({ state: 'invalidated', ended_reason: 'key_revoked' });
    await expect(s.approvals.approve(asked, BOB, null)).rejects.toMatchObject({ code: 'approval_not_pending' });
    // The start asks a second key again rather than running on the revoked key's approval.
    expect(approvalId(await refusal(s.commands.start(approvedWave.id, ALICE.actor, ALICE.key)))).not.toBe(given);
    expect(await state(approvedWave.id)).toBe('draft');
    const ended = await audits('approval.invalidated', approvedWave.id);
    expect(ended[0]).toMatchObject({ actor: 'cli', detail: { approvalId: given, reason: 'key_revoked' } });
  });

  it('an approval is invalidated by a rate change made after it: the start asks again', async () => {
    const wave = await guarded('rate after approval').create(h, ALICE.actor);
    const request = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(request, BOB, null);
    await s.commands.update(wave.id, { ratePerSecond: 400 }, ALICE.actor, ALICE.key);
    expect(await row(request)).toMatchObject({ state: 'invalidated', ended_reason: 'plan_changed' });
    const invalidated = await audits('approval.invalidated', wave.id);
    expect(invalidated[0].detail).toMatchObject({
      approvalId: request,
      reason: 'plan_changed',
      changes: [{ field: 'plan.rate_per_second', before: 500, after: 400 }],
    });
    const again = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    expect(again).not.toBe(request);
    expect(await state(wave.id)).toBe('draft');
  });

  it('checks the hash again at execution: a plan changed behind an approved request (any column) starts nothing', async () => {
    const wave = await guarded('changed behind').create(h, ALICE.actor);
    const request = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(request, BOB, null);
    // A change that bypassed the service (or a column another feature adds): the hash covers the stored row.
    await h.db.owner.query(`UPDATE waves SET batch_size = 100 WHERE id = $1`, [wave.id]);
    const again = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    expect(again).not.toBe(request);
    expect(await row(request)).toMatchObject({ state: 'invalidated', ended_reason: 'plan_changed' });
    expect(await state(wave.id)).toBe('draft');
  });

  it('a preview whose counts moved (an import added accounts) cannot be approved, nor run once approved', async () => {
    const before = await guarded('counts').create(h, ALICE.actor);
    const pending = approvalId(await refusal(s.commands.schedule(before.id, ALICE.actor, ALICE.key)));
    const other = await guarded('counts approved').create(h, ALICE.actor);
    const approved = approvalId(await refusal(s.commands.schedule(other.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(approved, BOB, null);

    await h.importPopulation({ count: 260, seed: 9 });

    const shown = await s.approvals.show(pending);
    expect(shown.current?.matches).toBe(false);
    await expect(s.approvals.approve(pending, BOB, null)).rejects.toMatchObject({
      code: 'approval_invalidated',
      extra: { changes: expect.arrayContaining([expect.objectContaining({ field: 'counts.eligible' })]) },
    });
    expect(await row(pending)).toMatchObject({ state: 'invalidated', ended_reason: 'counts_changed' });

    await refusal(s.commands.schedule(other.id, ALICE.actor, ALICE.key));
    expect(await row(approved)).toMatchObject({ state: 'invalidated', ended_reason: 'counts_changed' });
    expect(await state(other.id)).toBe('draft');
  });

  it('the same counts over other accounts (one leaked, another reset) are not the preview approved', async () => {
    const wave = await guarded('swapped').create(h, ALICE.actor);
    const pending = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    // An eligible account found leaked, and a held-back leaked one whose password was changed: counts unchanged.
    await h.db.owner.query(
      `UPDATE accounts SET leaked = true, password_changed_at = NULL
        WHERE id = (SELECT id FROM accounts WHERE 'general' = ANY(cohorts) AND NOT leaked AND NOT imap_enabled
                     AND NOT held ORDER BY id LIMIT 1)`,
    );
    await h.db.owner.query(
      `UPDATE accounts SET password_changed_at = now()
        WHERE id = (SELECT id FROM accounts WHERE 'general' = ANY(cohorts) AND leaked AND password_changed_at IS NULL
                     AND NOT imap_enabled AND NOT held ORDER BY id DESC LIMIT 1)`,
    );
    const shown = await s.approvals.show(pending);
    expect(shown.current?.matches).toBe(false);
    expect(shown.current?.changes.map((c) => c.field)).toEqual(['counts.eligibleDigest']);
    await expect(s.approvals.approve(pending, BOB, null)).rejects.toMatchObject({
      code: 'approval_invalidated',
      extra: { changes: [expect.objectContaining({ field: 'counts.eligibleDigest' })] },
    });
    expect(await row(pending)).toMatchObject({ state: 'invalidated', ended_reason: 'counts_changed' });
  });

  it('requests expire: a pending one can no longer be approved, an approved one no longer runs', async () => {
    const wave = await guarded('expiry').create(h, ALICE.actor);
    const pending = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    await h.db.owner.query(`UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, [pending]);
    await expect(s.approvals.approve(pending, BOB, null)).rejects.toMatchObject({ code: 'approval_expired' });
    expect(await row(pending)).toMatchObject({ state: 'expired', ended_reason: 'expired' });
    expect((await audits('approval.expired', wave.id))[0].detail).toMatchObject({ approvalId: pending });

    const next = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(next, BOB, null);
    await h.db.owner.query(`UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = $1`, [next]);
    const third = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    expect(third).not.toBe(next);
    expect((await row(next)).state).toBe('expired');
    expect(await state(wave.id)).toBe('draft');
  });

  it('a rejected request ends; the command asks anew', async () => {
    const wave = await guarded('reject').create(h, ALICE.actor);
    const request = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    await expect(s.approvals.reject(request, BOB, ' ')).rejects.toMatchObject({ kind: 'invalid' });
    const rejected = await s.approvals.reject(request, BOB, 'not tonight');
    expect(rejected).toMatchObject({ state: 'rejected', note: 'not tonight' });
    expect((await audits('approval.rejected', wave.id))[0]).toMatchObject({ actor: 'ops:bob' });
    await expect(s.approvals.approve(request, BOB, null)).rejects.toMatchObject({ code: 'approval_not_pending' });
    expect(approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)))).not.toBe(request);
  });

  it('raising the rate above the bound needs a second key; the same update then runs; lowering never does', async () => {
    const wave = await aWave().name('rate').cohorts('health').protocols('imap').rate(500).create(h, ALICE.actor);
    await s.commands.update(wave.id, { ratePerSecond: 1000 }, ALICE.actor, ALICE.key);
    const request = approvalId(
      await refusal(s.commands.update(wave.id, { ratePerSecond: 5000 }, ALICE.actor, ALICE.key)),
    );
    expect((await row(request)).rule).toBe('raise_rate');
    await s.approvals.approve(request, BOB, null);
    // Another body is another request.
    await refusal(s.commands.update(wave.id, { ratePerSecond: 6000 }, ALICE.actor, ALICE.key));
    await s.commands.update(wave.id, { ratePerSecond: 5000 }, ALICE.actor, ALICE.key);
    expect((await s.waves.get(wave.id)).ratePerSecond).toBe(5000);
    expect((await row(request)).state).toBe('executed');
    await s.commands.update(wave.id, { ratePerSecond: 2000 }, ALICE.actor, ALICE.key);
    expect((await s.waves.get(wave.id)).ratePerSecond).toBe(2000);
  });

  it('resuming after a halt and rolling back need a second key; a plain pause and resume do not', async () => {
    const wave = await aWave().name('halt').cohorts('health').protocols('imap').rate(500).create(h, ALICE.actor);
    await s.commands.start(wave.id, ALICE.actor, ALICE.key);
    await s.commands.pause(wave.id, ALICE.actor, ALICE.key);
    await s.commands.resume(wave.id, ALICE.actor, ALICE.key);
    await s.commands.halt(wave.id, 'gate:test', { gate: 'test' }, false);
    expect(await state(wave.id)).toBe('halted');

    const resume = approvalId(await refusal(s.commands.resume(wave.id, ALICE.actor, ALICE.key)));
    expect((await row(resume)).rule).toBe('resume_after_halt');
    const rollback = approvalId(await refusal(s.commands.rollback(wave.id, ALICE.actor, ALICE.key)));
    expect((await row(rollback)).rule).toBe('rollback');
    await s.approvals.approve(resume, BOB, null);
    await s.commands.resume(wave.id, ALICE.actor, ALICE.key);
    expect(await state(wave.id)).toBe('running');
    // The rollback request is bound to the same frozen plan and membership: still open, approvable.
    await s.approvals.approve(rollback, BOB, null);
    await s.commands.rollback(wave.id, ALICE.actor, ALICE.key);
    expect(await state(wave.id)).toMatch(/^rolling_back|rolled_back$/);
  });

  it('under start, a started wave loses a gate or its reaction only on a second key; adding a gate needs none', async () => {
    const gate: Gate = {
      name: 'errors',
      metric: 'mailstore_error_rate',
      threshold: 0.05,
      windowSeconds: 60,
      minSamples: 20,
      action: 'halt',
    };
    const reclose = { failures: 5, distinctIps: 2, windowSeconds: 600 };
    const wave = await aWave()
      .name('guards')
      .cohorts('health')
      .protocols('imap')
      .rate(500)
      .gates(gate)
      .reclose(reclose)
      .approvalPolicy({ require: ['start'] })
      .create(h, ALICE.actor);
    await s.approvals.approve(approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key))), BOB, null);
    await s.commands.start(wave.id, ALICE.actor, ALICE.key);
    await s.commands.pause(wave.id, ALICE.actor, ALICE.key);

    const stripped = await refusal(s.commands.update(wave.id, { gates: [] }, ALICE.actor, ALICE.key));
    expect((await row(approvalId(stripped))).rule).toBe('start');
    const softened = await refusal(
      s.commands.update(wave.id, { gates: [{ ...gate, threshold: 0.9 }] }, ALICE.actor, ALICE.key),
    );
    expect((await row(approvalId(softened))).rule).toBe('start');
    await refusal(s.commands.update(wave.id, { reclose: null }, ALICE.actor, ALICE.key));
    const [stored] = await h.db.dataSource.query<{ gates: unknown[]; reclose: unknown }[]>(
      `SELECT gates, reclose FROM waves WHERE id = $1`,
      [wave.id],
    );
    expect(stored).toEqual({ gates: [gate], reclose });

    // Stricter needs no second key: a gate added, the first kept.
    const stricter: Gate[] = [gate, { ...gate, name: 'errors-early', threshold: 0.01, action: 'pause' }];
    await s.commands.update(wave.id, { gates: stricter }, ALICE.actor, ALICE.key);
    expect(
      (await h.db.dataSource.query<{ gates: unknown[] }[]>(`SELECT gates FROM waves WHERE id = $1`, [wave.id]))[0],
    ).toEqual({ gates: stricter });
    // The removal, approved by another person, runs.
    await s.approvals.approve(
      approvalId(await refusal(s.commands.update(wave.id, { gates: [gate] }, ALICE.actor, ALICE.key))),
      BOB,
      null,
    );
    await s.commands.update(wave.id, { gates: [gate] }, ALICE.actor, ALICE.key);
  });

  describe('time windows (docs/windows.md)', () => {
    const local = (ms: number) => DateTime.fromMillis(ms, { zone: 'UTC' }).toFormat("yyyy-MM-dd'T'HH:mm");
    /** Closed now: a blackout from an hour ago to a day from now. */
    const closedNow = (): TimeWindows => ({
      timeZone: 'UTC',
      blackouts: [{ start: local(Date.now() - 3_600_000), end: local(Date.now() + 86_400_000) }],
    });
    const windowed = (name: string, first: number) =>
      aWave()
        .name(name)
        .selector({ type: 'logins', logins: Array.from({ length: 10 }, (_, i) => populationLogin(first + i)) })
        .protocols('imap')
        .rate(500);

    it('are part of the plan: changing them invalidates an approval, and the start asks again', async () => {
      const wave = await windowed('windows in the plan', 101)
        .approvalPolicy({ require: ['start'] })
        .windows(closedNow())
        .create(h, ALICE.actor);
      const request = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
      await s.approvals.approve(request, BOB, null);
      await s.commands.update(
        wave.id,
        { windows: { timeZone: 'UTC', allowed: [{ days: ['mon', 'tue'], start: '08:00', end: '20:00' }] } },
        ALICE.actor,
        ALICE.key,
      );
      expect(await row(request)).toMatchObject({ state: 'invalidated', ended_reason: 'plan_changed' });
      const invalidated = await audits('approval.invalidated', wave.id);
      expect(invalidated[0].detail.changes).toEqual(
        expect.arrayContaining([expect.objectContaining({ field: expect.stringMatching(/^plan\.windows/) })]),
      );
      // Removing them is a change too.
      const again = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
      expect(again).not.toBe(request);
      await s.approvals.approve(again, BOB, null);
      await s.commands.update(wave.id, { windows: null }, ALICE.actor, ALICE.key);
      expect(await row(again)).toMatchObject({ state: 'invalidated', ended_reason: 'plan_changed' });
      expect(await state(wave.id)).toBe('draft');
    });

    it('their close and opening never ask; an ops resume of a wave paused outside its window is not one after a halt', async () => {
      // Every rule in force: the deployment's (resume after a halt, rollback) and the wave's start.
      const wave = await windowed('windows never ask', 121)
        .approvalPolicy({ require: ['start'] })
        .windows(closedNow())
        .create(h, ALICE.actor);
      const start = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
      await s.approvals.approve(start, BOB, null);
      await s.commands.start(wave.id, ALICE.actor, ALICE.key);

      expect(await s.commands.closeWindow(wave.id)).toMatchObject({ from: 'running', state: 'paused', noop: false });
      expect(await h.waveStatus(wave.id)).toMatchObject({ state: 'paused', status_reason: 'outside_window' });
      // An ops resume (the window still closed) runs on one key: the wave is paused, not halted.
      expect(await s.commands.resume(wave.id, ALICE.actor, ALICE.key)).toMatchObject({ state: 'running' });
      expect(await s.commands.closeWindow(wave.id)).toMatchObject({ state: 'paused', noop: false });
      await s.commands.update(wave.id, { windows: null }, ALICE.actor, ALICE.key);
      expect(await s.commands.openWindow(wave.id)).toMatchObject({ from: 'paused', state: 'running', noop: false });

      const asked = await h.db.dataSource.query<{ id: string; command: string }[]>(
        `SELECT id, command FROM approvals WHERE wave_id = $1 ORDER BY requested_at`,
        [wave.id],
      );
      expect(asked.map((a) => a.command)).toEqual(['start']);
      for (const action of ['wave.window_closed', 'wave.window_opened']) {
        const rows = await audits(action, wave.id);
        expect(rows.length).toBeGreaterThan(0);
        for (const r of rows) expect(r.detail ?? {}).not.toHaveProperty('approvalId');
      }
      await s.commands.cancel(wave.id, ALICE.actor, ALICE.key);
    });

    it("the window's close writes no plan column: an approval given before it still runs after it", async () => {
      const wave = await windowed('window pause keeps the approval', 141).windows(closedNow()).create(h, ALICE.actor);
      await s.commands.start(wave.id, ALICE.actor, ALICE.key);
      const rollback = approvalId(await refusal(s.commands.rollback(wave.id, ALICE.actor, ALICE.key)));
      await s.approvals.approve(rollback, BOB, null);
      await s.commands.closeWindow(wave.id);
      expect(await h.waveStatus(wave.id)).toMatchObject({ state: 'paused', status_reason: 'outside_window' });
      await s.commands.rollback(wave.id, ALICE.actor, ALICE.key);
      expect(await row(rollback)).toMatchObject({ state: 'executed' });
      expect(await state(wave.id)).toMatch(/^rolling_back|rolled_back$/);
    });
  });

  it("a wave's own policy only tightens", async () => {
    const wave = await guarded('tighten').create(h, ALICE.actor);
    await expect(s.commands.update(wave.id, { approvalPolicy: null }, ALICE.actor, ALICE.key)).rejects.toMatchObject({
      kind: 'conflict',
    });
    await expect(
      s.commands.update(wave.id, { approvalPolicy: { require: ['nope' as never] } }, ALICE.actor, ALICE.key),
    ).rejects.toMatchObject({ kind: 'invalid', extra: { errors: [{ field: 'approvalPolicy.require[0]' }] } });
    await s.commands.update(wave.id, { approvalPolicy: { require: ['start', 'rollback'] } }, ALICE.actor, ALICE.key);
    expect((await s.waves.get(wave.id)).approvalPolicy).toEqual({ require: ['start', 'rollback'], rateBound: null });
  });

  it('lists pending requests with the diff since the last approval of their wave, field by field', async () => {
    const wave = await guarded('diff').create(h, ALICE.actor);
    const first = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));
    await s.approvals.approve(first, BOB, null);
    await s.commands.schedule(wave.id, ALICE.actor, ALICE.key);
    await s.commands.unschedule(wave.id, ALICE.actor, ALICE.key);
    await s.commands.update(wave.id, { ratePerSecond: 250, batchSize: 50 }, ALICE.actor, ALICE.key);
    const second = approvalId(await refusal(s.commands.schedule(wave.id, ALICE.actor, ALICE.key)));

    const pending = await s.approvals.list({ waveId: wave.id });
    expect(pending.map((a) => a.id)).toEqual([second]);
    expect(pending[0].sinceLastApproval).toMatchObject({
      approvalId: first,
      changes: [
        { field: 'plan.batch_size', before: 500, after: 50 },
        { field: 'plan.rate_per_second', before: 500, after: 250 },
      ],
    });
    expect((await s.approvals.list({ waveId: wave.id, state: 'executed' })).map((a) => a.id)).toEqual([first]);
    await expect(s.approvals.list({ state: 'nope' })).rejects.toMatchObject({
      kind: 'invalid',
      extra: { errors: [{ field: 'state' }] },
    });
  });

  it('a support override of a held account waits for a second ops key, bound to the account as it was', async () => {
    const held = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE leaked AND (password_changed_at IS NULL OR password_changed_at <= $1)
        ORDER BY id LIMIT 2`,
      [h.config.INCIDENT_AT],
    );
    const [first, second] = held.map((r) => r.login);
    const carol = { actor: 'support:carol', key: 'key-carol' };
    const input = { reason: 'customer on the phone', ticket: 'SUP-9', override: true };
    const ask = (login: string) => s.operations.request(login, 'enable', input, carol.actor, carol.key);

    const refused = await refusal(ask(first));
    expect(refused.extra).toMatchObject({ rule: 'support_override', command: 'support_override', waveId: null });
    const operations = () =>
      h.db.dataSource.query(`SELECT id FROM operations WHERE login = $1 AND kind = 'enable'`, [first]);
    expect(await operations()).toEqual([]);
    await s.approvals.approve(approvalId(refused), BOB, 'identity checked');
    const op = await ask(first);
    expect(op).toMatchObject({ login: first, kind: 'enable' });
    expect(await row(approvalId(refused))).toMatchObject({ state: 'executed' });
    // An enable that overrides nothing needs no second key.
    const plain = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE NOT leaked AND NOT held ORDER BY id LIMIT 1`,
    );
    await expect(s.operations.request(plain[0].login, 'enable', input, carol.actor, carol.key)).resolves.toBeTruthy();

    // The account changed after the request (support held it): what was shown is gone.
    const other = approvalId(await refusal(ask(second)));
    await s.operations.setHold(second, true, { reason: 'fraud', ticket: 'SUP-10' }, 'support:dave');
    await expect(s.approvals.approve(other, BOB, null)).rejects.toMatchObject({
      code: 'approval_invalidated',
      extra: { changes: expect.arrayContaining([expect.objectContaining({ field: 'plan.held' })]) },
    });
  });

  it('the requester withdraws its own request (docs: any ops key, the requester too)', async () => {
    const wave = await guarded('withdrawn').create(h, ALICE.actor);
    const request = approvalId(await refusal(s.commands.start(wave.id, ALICE.actor, ALICE.key)));
    await s.approvals.reject(request, { ...ALICE, role: 'ops' }, 'wrong cohort');
    expect(await row(request)).toMatchObject({ state: 'rejected', decided_by: 'ops:alice' });
  });

  it('a support key withdraws its own override request; not one another key made', async () => {
    const [{ login }] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE NOT leaked AND NOT held ORDER BY id DESC OFFSET 1 LIMIT 1`,
    );
    await s.operations.setHold(login, true, { reason: 'fraud suspicion', ticket: 'SEC-5' }, 'support:erin');
    const release = { reason: 'wrong account', ticket: 'SUP-12' };
    const request = approvalId(await refusal(s.operations.setHold(login, false, release, 'support:gina', 'key-gina')));
    const other = { actor: 'support:hank', key: 'key-hank', role: 'support' };
    await expect(s.approvals.reject(request, other, 'not mine')).rejects.toMatchObject({ code: 'forbidden' });
    expect((await row(request)).state).toBe('pending');
    await s.approvals.reject(request, { actor: 'support:gina', key: 'key-gina', role: 'support' }, 'wrong account');
    expect(await row(request)).toMatchObject({ state: 'rejected', decided_by: 'support:gina' });
  });

  it('lifting a hold waits for a second ops key too: a release then a plain enable would open it on one key', async () => {
    const [{ login }] = await h.db.dataSource.query<{ login: string }[]>(
      `SELECT login FROM accounts WHERE NOT leaked AND NOT held ORDER BY id DESC LIMIT 1`,
    );
    const note = { reason: 'fraud suspicion', ticket: 'SEC-4' };
    await s.operations.setHold(login, true, note, 'support:erin', 'key-erin');
    const heldNow = async () =>
      (await h.db.dataSource.query<{ held: boolean }[]>(`SELECT held FROM accounts WHERE login = $1`, [login]))[0].held;
    expect(await heldNow()).toBe(true);

    const release = { reason: 'customer verified', ticket: 'SUP-11' };
    const refused = await refusal(s.operations.setHold(login, false, release, 'support:frank', 'key-frank'));
    expect(refused.extra).toMatchObject({ rule: 'support_override', command: 'support_override', waveId: null });
    expect(await heldNow()).toBe(true);
    await s.approvals.approve(approvalId(refused), BOB, 'verified');
    await s.operations.setHold(login, false, release, 'support:frank', 'key-frank');
    expect(await heldNow()).toBe(false);
    expect(await row(approvalId(refused))).toMatchObject({ state: 'executed' });
    // Releasing an account that is not held changes nothing: no second key.
    await expect(s.operations.setHold(login, false, release, 'support:frank', 'key-frank')).resolves.toBeTruthy();
    // The account's own history (GET /audit?login=, GET /accounts/{login}) shows its approval, as it shows its hold.
    const history = await h.db.dataSource.query<{ action: string }[]>(
      `SELECT action FROM audit_log WHERE login = $1 AND action LIKE 'approval.%' ORDER BY id`,
      [login],
    );
    expect(history.map((r) => r.action)).toEqual(['approval.requested', 'approval.given', 'approval.executed']);
  });
});
