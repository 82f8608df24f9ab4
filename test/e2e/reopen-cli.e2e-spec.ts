import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import { JsonNotification, populationLogin } from '@app/domain';
import { CliRun, CliRunOptions, NotificationReceiver, pollUntil, REOPEN_MAIN, runReopen } from '@app/testing';
import { ApiHarness, KeyName, startApiHarness } from './api-harness';

/**
 * The `reopen` ops CLI (issue 21) as an operator runs it: the built binary as a child process, with REOPEN_URL and
 * REOPEN_API_KEY (or a profile), against the built API, a worker, the simulator, PostgreSQL and Redis.
 */
const ACCOUNTS = 600;

describe('reopen CLI against a real stack (built binary, API, worker, simulator)', () => {
  let api: ApiHarness;
  let home: string;
  let receiver: NotificationReceiver;

  beforeAll(async () => {
    receiver = await NotificationReceiver.start();
    api = await startApiHarness('reopen-cli', {
      accounts: ACCOUNTS,
      worker: true,
      // Notifications given up after two quick attempts: `subscriptions redeliver` has failed deliveries to send.
      engineEnv: {
        GATE_INTERVAL_MS: '100',
        NOTIFY_POLL_MS: '100',
        NOTIFY_BACKOFF_BASE_MS: '100',
        NOTIFY_MAX_ATTEMPTS: '2',
      },
      env: { API_SSE_INTERVAL_MS: '200' },
    });
    await api.h.importPopulation({ count: ACCOUNTS, seed: 7, leakedShare: 0 });
    home = mkdtempSync(join(tmpdir(), 'reopen-cli-home-'));
  });
  afterAll(async () => {
    await api?.close();
    await receiver?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Runs the binary with a key of the harness (ops unless told) and this test's HOME. */
  function reopen(
    args: string[],
    o: { key?: KeyName | null; env?: Record<string, string> } & Omit<CliRunOptions, 'env'> = {},
  ): Promise<CliRun> {
    const key = o.key === undefined ? 'ops' : o.key;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: home,
      ...(key && { REOPEN_URL: api.api.origin, REOPEN_API_KEY: api.secrets[key] }),
      ...o.env,
    };
    return runReopen(args, { ...o, env });
  }

  const logins = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => populationLogin(from + i));

  function planFile(name: string, text: string): string {
    const file = join(home, name);
    writeFileSync(file, text);
    return file;
  }

  /** A plan as ops keep it in git: YAML, comments and all. */
  function yamlPlan(name: string, from: number, to: number, rate: number, extra = ''): string {
    return planFile(
      `${name}.yaml`,
      `# ${name}: reviewed in the change ticket\nname: ${name}\nselector:\n  type: logins\n  logins:\n` +
        logins(from, to)
          .map((l) => `    - ${l}\n`)
          .join('') +
        `protocols: [imap, pop3]\nratePerSecond: ${rate}\nbatchSize: 20\n${extra}`,
    );
  }

  async function create(file: string): Promise<string> {
    const created = await reopen(['waves', 'create', '-f', file, '--json']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    const wave = JSON.parse(created.stdout) as { id: string; state: string };
    expect(wave.state).toBe('draft');
    return wave.id;
  }

  /** The wave's row in PostgreSQL: the source of truth behind the API's answers. */
  async function waveRow(id: string) {
    const [row] = await api.h.db.dataSource.query<
      {
        state: string;
        start_at: Date | null;
        schedule_fired_at: Date | null;
        started_at: Date | null;
        member_count: number | null;
      }[]
    >(`SELECT state, start_at, schedule_fired_at, started_at, member_count FROM waves WHERE id = $1`, [id]);
    return row;
  }

  /** How many of the wave's members are in each state, from wave_members. */
  async function memberStates(id: string): Promise<Record<string, number>> {
    const rows = await api.h.db.dataSource.query<{ state: string; n: number }[]>(
      `SELECT state, count(*)::int AS n FROM wave_members WHERE wave_id = $1 GROUP BY state`,
      [id],
    );
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** A wall-clock start `seconds` ahead in Paris, as a plan says it, and the instant it stands for. */
  function parisStart(seconds: number): { local: string; at: Date } {
    const start = DateTime.now().setZone('Europe/Paris').plus({ seconds }).startOf('second');
    return { local: start.toFormat("yyyy-MM-dd'T'HH:mm:ss"), at: start.toJSDate() };
  }

  async function operationDone(id: string): Promise<{ kind: string; state: string; outcome: string }> {
    return pollUntil(
      async () => {
        const r = await api.call<{ kind: string; state: string; outcome: string }>('GET', `/operations/${id}`, {
          key: 'support',
        });
        return r.body.state === 'succeeded' || r.body.state === 'failed' ? r.body : undefined;
      },
      { timeoutMs: 20_000, description: `operation ${id} done` },
    );
  }

  it('answers --help for the program and each command, with the exit codes; bad usage exits 1', async () => {
    const help = await reopen(['--help'], { key: null });
    expect(help.code).toBe(0);
    for (const word of ['waves', 'accounts', 'audit', 'Exit codes:', 'REOPEN_URL']) expect(help.stdout).toContain(word);
    const setRate = await reopen(['waves', 'set-rate', '--help'], { key: null });
    expect(setRate).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^Usage: reopen waves set-rate \[options\] <id> <perSecond>/),
    });
    expect(setRate.stdout).toContain('--json');
    const enable = await reopen(['accounts', 'enable', '-h'], { key: null });
    expect(enable.stdout).toMatch(/--reason <text>[\s\S]*--ticket <id>[\s\S]*--override/);

    expect(await reopen(['waves', 'resume'], { key: null })).toMatchObject({
      code: 1,
      stderr: "error: missing required argument 'id'\n(see reopen waves resume --help)\n",
    });
    expect(await reopen(['waves', 'pause'], { key: null })).toMatchObject({
      code: 1,
      stderr: 'error: give a wave id or --all (not both)\n(see reopen waves pause --help)\n',
    });
    expect(await reopen(['waves', 'list', '--stat', 'running'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("unknown option '--stat'"),
    });
    expect(await reopen(['waves', 'list', '--state', 'runing'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('Allowed choices are draft, scheduled, running'),
    });
    expect(await reopen(['frobnicate'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('(see reopen --help)'),
    });
    expect(await reopen(['waves', 'list'], { key: null })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('set REOPEN_URL and REOPEN_API_KEY'),
    });
  });

  it('creates a wave from a YAML plan, previews, starts and watches it to completion (exit 0)', async () => {
    const id = await create(yamlPlan('cli-health', 1, 120, 400));

    const shown = await reopen(['waves', 'show', id]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`^wave\\s+${id}$`, 'm'));
    expect(shown.stdout).toMatch(/^state\s+draft$/m);

    const preview = await reopen(['waves', 'preview', id]);
    expect(preview.code).toBe(0);
    expect(preview.stdout).toMatch(/^members\s+120, eligible 120$/m);
    const previewJson = JSON.parse((await reopen(['waves', 'preview', id, '--json'])).stdout);
    expect(previewJson).toMatchObject({ members: 120, eligible: 120, batchSize: 20 });
    // What the engine will send, and what it sized the batches against.
    expect(preview.stdout).toMatch(
      new RegExp(`^batches\\s+${previewJson.batches} calls of up to 20 accounts at 400/s$`, 'm'),
    );
    expect(previewJson.batches).toBeGreaterThanOrEqual(6);
    const limits = previewJson.mailstore as { batchSizeLimit: number; accountUpdatesPerSecond: number } | null;
    expect(preview.stdout).toMatch(
      limits
        ? new RegExp(
            `^mailstore at most ${limits.batchSizeLimit.toLocaleString('en-US')} accounts per call, ` +
              `${limits.accountUpdatesPerSecond.toLocaleString('en-US')}/s \\(read .+Z\\)$`,
            'm',
          )
        : /^mailstore limits not read yet/m,
    );

    expect(await reopen(['waves', 'start', id])).toMatchObject({ code: 0, stdout: `wave ${id}: draft → running\n` });
    const watched = await reopen(['waves', 'watch', id]);
    expect(watched).toMatchObject({ code: 0, stderr: '' });
    // Not a terminal: plain lines (no ANSI), the last block the completed wave.
    expect(watched.stdout).not.toContain('\x1b[');
    expect(watched.stdout).toMatch(/cli-health #{30} 100\.0 % 120\/120 completed/);

    const listed = JSON.parse((await reopen(['waves', 'list', '--json', '--state', 'completed'])).stdout) as {
      items: { id: string }[];
    };
    expect(listed.items.map((w) => w.id)).toContain(id);
    const table = await reopen(['waves', 'list']);
    expect(table.stdout).toMatch(/^ID\s+NAME\s+STATE\s+RATE\s+MEMBERS\s+START \(UTC\)$/m);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+cli-health\\s+completed\\s+400/s\\s+120\\s+–$`, 'm'));
    // A completed wave cannot be paused: the API's refusal, with the state and what it accepts (exit 2).
    const refused = await reopen(['waves', 'pause', id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^refused: 409 .*\(illegal_transition\)/);
    expect(refused.stderr).toMatch(/the wave is completed; it accepts: .*rollback/);
  });

  it('on a terminal, watch redraws live bars in place, in colour', async () => {
    const id = await create(yamlPlan('cli-tty', 511, 570, 30));
    await reopen(['waves', 'start', id]);
    // util-linux's script(1) gives the binary a pseudo-terminal; -e passes its exit code on.
    const command = [process.execPath, REOPEN_MAIN, 'waves', 'watch', id].map((a) => `'${a}'`).join(' ');
    const tty = await reopen([], { wrap: ['script', '-qfec', command, '/dev/null'] });
    expect(tty.code).toBe(0);
    // Cursor up N lines, then erase: the block is redrawn in place, not appended.
    // eslint-disable-next-line no-control-regex -- the ANSI sequences are what is checked
    expect(tty.stdout).toMatch(/\x1b\[\d+F\x1b\[J/);
    expect(tty.stdout).toContain('\x1b[32m'); // completed, in green
    expect(tty.stdout).toMatch(/█{30}/);
  });

  it('schedules a wave that then starts by itself at its time; an unscheduled one stays a draft past it', async () => {
    // B's time comes before A's: once watch has seen A start and complete, B's time has passed too. Both far enough
    // ahead for the 13 CLI runs before watch's first view (up to ~1 s each with the other jest worker busy).
    const a = parisStart(30);
    const b = parisStart(25);
    const zone = 'timeZone: Europe/Paris\n';
    const idA = await create(yamlPlan('cli-scheduled', 121, 140, 50, `startLocal: '${a.local}'\n${zone}`));
    const idB = await create(yamlPlan('cli-unscheduled', 141, 150, 50, `startLocal: '${b.local}'\n${zone}`));
    const utc = (d: Date) => `${d.toISOString().slice(0, 19).replace('T', ' ')}Z`;

    const scheduled = await reopen(['waves', 'schedule', idA, '--json']);
    expect(scheduled).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(scheduled.stdout)).toEqual({ id: idA, from: 'draft', state: 'scheduled', noop: false });
    expect(await waveRow(idA)).toMatchObject({ state: 'scheduled', start_at: a.at, schedule_fired_at: null });
    expect((await api.call('GET', `/waves/${idA}`)).body).toMatchObject({
      state: 'scheduled',
      startLocal: a.local,
      startAt: a.at.toISOString(),
    });
    const shown = await reopen(['waves', 'show', idA]);
    expect(shown.stdout).toMatch(/^state\s+scheduled$/m);
    expect(shown.stdout).toContain(`start     ${a.local.replace('T', ' ')} Europe/Paris (${utc(a.at)})`);
    const listed = await reopen(['waves', 'list', '--state', 'scheduled']);
    expect(listed.stdout).toMatch(
      new RegExp(`^${idA}\\s+cli-scheduled\\s+scheduled\\s+50/s\\s+–\\s+${utc(a.at)}$`, 'm'),
    );
    // Scheduled already: a second schedule is an illegal transition.
    const again = await reopen(['waves', 'schedule', idA]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^refused: 409 .*\(illegal_transition\)/);
    expect(again.stderr).toMatch(/the wave is scheduled; it accepts: .*unschedule/);

    expect(await reopen(['waves', 'schedule', idB])).toMatchObject({
      code: 0,
      stdout: `wave ${idB}: draft → scheduled\n`,
    });
    expect((await waveRow(idB)).state).toBe('scheduled');
    const unscheduled = await reopen(['waves', 'unschedule', idB, '--json']);
    expect(unscheduled.code).toBe(0);
    expect(JSON.parse(unscheduled.stdout)).toEqual({ id: idB, from: 'scheduled', state: 'draft', noop: false });
    // A draft again; its planned time is kept for a later schedule.
    expect(await waveRow(idB)).toMatchObject({ state: 'draft', start_at: b.at, schedule_fired_at: null });
    expect((await reopen(['waves', 'list', '--state', 'scheduled', '--json'])).stdout).not.toContain(idB);
    const twice = await reopen(['waves', 'unschedule', idB]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/the wave is draft; it accepts: schedule, start, cancel/);

    // A wave without a start time cannot be scheduled: refused, and still a draft.
    const idC = await create(yamlPlan('cli-no-start', 581, 589, 50));
    const noStart = await reopen(['waves', 'schedule', idC]);
    expect(noStart.code).toBe(2);
    expect(noStart.stderr).toMatch(/^refused: 409 .*the wave has no start time/);
    expect((await waveRow(idC)).state).toBe('draft');

    // watch follows the scheduled wave through its start, to completion.
    const watched = await reopen(['waves', 'watch', idA]);
    expect(watched).toMatchObject({ code: 0, stderr: '' });
    // Its first view is the scheduled wave and its time; 20 accounts at 50/s may run between two views.
    expect(watched.stdout).toMatch(/^cli-scheduled .* 0\/0 scheduled$/m);
    expect(watched.stdout).toContain(`scheduled to start at ${a.at.toISOString()}`);
    expect(watched.stdout).toMatch(/^scheduled → (running|completed)$/m);
    expect(watched.stdout).toMatch(/cli-scheduled #{30} 100\.0 % 20\/20 completed/);
    const fired = await waveRow(idA);
    expect(fired).toMatchObject({ state: 'completed', member_count: 20 });
    expect(fired.schedule_fired_at!.getTime()).toBeGreaterThanOrEqual(a.at.getTime());
    expect(await memberStates(idA)).toEqual({ enabled: 20 });
    const auditA = JSON.parse((await reopen(['audit', '--wave', idA, '--commands', '--json'])).stdout) as {
      items: { action: string }[];
    };
    expect(auditA.items.map((e) => e.action)).toEqual(expect.arrayContaining(['wave.schedule', 'wave.schedule_fired']));

    // B's time has passed: it never started, nothing of it reached the mailstore.
    expect(Date.now()).toBeGreaterThan(b.at.getTime());
    expect(await waveRow(idB)).toMatchObject({
      state: 'draft',
      schedule_fired_at: null,
      started_at: null,
      member_count: null,
    });
    expect(await memberStates(idB)).toEqual({});
    expect(api.h.batchCalls(idB)).toEqual([]);
    expect(api.h.sim.account(populationLogin(141))?.protocols).toEqual({ imap: false, pop3: false });
    const auditB = JSON.parse((await reopen(['audit', '--wave', idB, '--commands', '--json'])).stdout) as {
      items: { action: string }[];
    };
    expect(auditB.items.map((e) => e.action).sort()).toEqual(['wave.created', 'wave.schedule', 'wave.unschedule']);
  }, 90_000);

  it('pauses, changes the rate and resumes a running wave; --json prints the API answer', async () => {
    const id = await create(yamlPlan('cli-slow', 201, 400, 10));
    await reopen(['waves', 'start', id]);
    const paused = await reopen(['waves', 'pause', id, '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ id, from: 'running', state: 'paused', noop: false });
    expect(await reopen(['waves', 'pause', id])).toMatchObject({
      code: 0,
      stdout: `wave ${id}: already paused (nothing changed)\n`,
    });

    const rate = await reopen(['--json', 'waves', 'set-rate', id, '2000']);
    expect(rate.code).toBe(0);
    expect(JSON.parse(rate.stdout)).toMatchObject({ id, ratePerSecond: 2000, state: 'paused' });
    expect((await reopen(['waves', 'show', id])).stdout).toMatch(/^rate\s+2,000\/s/m);

    expect(await reopen(['waves', 'resume', id])).toMatchObject({ code: 0, stdout: `wave ${id}: paused → running\n` });
    const watched = await reopen(['waves', 'watch', id, '--json']);
    expect(watched.code).toBe(0);
    const views = watched.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { waveId: string; state: string; done: number; total: number });
    expect(views.every((v) => v.waveId === id)).toBe(true);
    expect(views.at(-1)).toMatchObject({ state: 'completed', done: 200, total: 200 });
  });

  it('watch exits 4 when a gate halts the wave, and 5 once it is rolled back', async () => {
    const signal = (value: number) =>
      api.call('POST', '/signals', {
        key: 'signals',
        body: { name: 'cli_failed_logins', value, windowSeconds: 60, observedAt: new Date().toISOString() },
      });
    expect((await signal(10)).status).toBe(201);
    const gate =
      'gates:\n  - name: failed-logins\n    metric: signal\n    signal: cli_failed_logins\n    windowSeconds: 60\n' +
      '    minSamples: 1\n    threshold: 100\n    action: halt\n';
    const id = await create(yamlPlan('cli-gated', 401, 500, 5, gate));
    await reopen(['waves', 'start', id]);
    // The signal breaches only once watch shows the wave running: it sees the halt happen.
    let sofar = '';
    const watching = reopen(['waves', 'watch', id], { onStdout: (text) => (sofar = text) });
    await pollUntil(() => / running$/m.test(sofar), { timeoutMs: 20_000, description: 'watch shows the wave running' });
    // And once it has enabled someone, so that the rollback below has accounts to restore (on a busy machine the
    // first batch may not have settled when watch first says running).
    await pollUntil(
      async () =>
        (
          await api.h.db.dataSource.query<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM wave_members WHERE wave_id = $1 AND state = 'enabled'`,
            [id],
          )
        )[0].n > 0,
      { timeoutMs: 20_000, description: 'a member enabled' },
    );
    expect((await signal(450)).status).toBe(201);
    const watched = await watching;
    expect(watched.code).toBe(4);
    expect(watched.stdout).toMatch(/^running → halted \(gate:failed-logins\)$/m);
    expect(watched.stdout).toMatch(/gate failed-logins: breached 450/);

    expect(await reopen(['waves', 'rollback', id])).toMatchObject({
      code: 0,
      stdout: `wave ${id}: halted → rolling_back\n`,
    });
    const rolledBack = await reopen(['waves', 'watch', id]);
    expect(rolledBack.code).toBe(5);
    // The rollback's own bar and outcomes, as wave_members has them: every member the wave enabled restored.
    const [rb] = await api.h.db.dataSource.query<{ enabled: number; restored: number }[]>(
      `SELECT count(*) FILTER (WHERE state = 'enabled')::int AS enabled,
              count(*) FILTER (WHERE rollback_state = 'rolled_back')::int AS restored
         FROM wave_members WHERE wave_id = $1`,
      [id],
    );
    expect(rb.restored).toBe(rb.enabled);
    expect(rb.restored).toBeGreaterThan(0);
    expect(rolledBack.stdout).toContain(`  rollback ${'#'.repeat(30)} 100.0 % ${rb.enabled}/${rb.enabled}\n`);
    expect(rolledBack.stdout).toContain(
      `  restored ${rb.restored} · unchanged 0 · conflicts 0 (changed since, left alone) · failed 0\n`,
    );
    const audit = JSON.parse((await reopen(['audit', '--wave', id, '--commands', '--json'])).stdout) as {
      items: { action: string }[];
    };
    expect(audit.items.map((e) => e.action)).toEqual(expect.arrayContaining(['wave.halt', 'wave.rollback']));
    expect(audit.items.some((e) => e.action.startsWith('member.'))).toBe(false);
  });

  it('cancels a running wave: its pending members are cancelled, watch exits 5', async () => {
    const id = await create(yamlPlan('cli-cancel', 151, 200, 2));
    await reopen(['waves', 'start', id]);
    let sofar = '';
    const watching = reopen(['waves', 'watch', id], { onStdout: (text) => (sofar = text) });
    await pollUntil(() => / running$/m.test(sofar), { timeoutMs: 20_000, description: 'watch shows the wave running' });
    // Some members enabled, the rest still to come: 2 accounts a second for 50.
    await pollUntil(async () => ((await memberStates(id)).enabled ?? 0) > 0, {
      timeoutMs: 20_000,
      description: 'a first member enabled',
    });

    const cancelled = await reopen(['waves', 'cancel', id, '--json']);
    expect(cancelled).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(cancelled.stdout)).toEqual({ id, from: 'running', state: 'cancelled', noop: false });
    const watched = await watching;
    expect(watched.code).toBe(5);
    expect(watched.stdout).toMatch(/^running → cancelled$/m);
    expect(watched.stdout).toMatch(/cli-cancel .* cancelled$/m);

    expect((await waveRow(id)).state).toBe('cancelled');
    expect(await api.h.waitAtRest(id)).toBe(true);
    const states = await memberStates(id);
    expect(states.pending).toBeUndefined();
    expect(states.in_flight).toBeUndefined();
    expect(states.enabled).toBeGreaterThan(0);
    expect(states.cancelled).toBeGreaterThan(0);
    expect((states.enabled ?? 0) + (states.cancelled ?? 0)).toBe(50);
    // A cancelled member was never opened on the mailstore.
    const [never] = await api.h.db.dataSource.query<{ login: string }[]>(
      `SELECT a.login FROM wave_members m JOIN accounts a ON a.id = m.account_id
        WHERE m.wave_id = $1 AND m.state = 'cancelled' ORDER BY m.seq DESC LIMIT 1`,
      [id],
    );
    expect(api.h.sim.account(never.login)?.protocols).toEqual({ imap: false, pop3: false });
    expect((await api.call('GET', `/waves/${id}/progress`, { key: 'viewer' })).body).toMatchObject({
      state: 'cancelled',
      counts: { pending: 0, cancelled: states.cancelled, enabled: states.enabled },
    });
    // The pending ones are counted in the cancel's own audit row; members claimed but not yet sent when it came end
    // cancelled too (the engine releases their batch), each with a ledger row of its own.
    const auditOf = async (action: string) =>
      (
        JSON.parse((await reopen(['audit', '--wave', id, '--action', action, '--limit', '100', '--json'])).stdout) as {
          items: { action: string; detail: { membersCancelled: number } | null }[];
        }
      ).items;
    const [command] = await auditOf('wave.cancel');
    expect(command.detail!.membersCancelled).toBeGreaterThan(0);
    expect(command.detail!.membersCancelled + (await auditOf('member.cancelled')).length).toBe(states.cancelled);

    // Watching a cancelled wave ends at once, with the same code; a second cancel is refused.
    const again = await reopen(['waves', 'watch', id, '--json']);
    expect(again.code).toBe(5);
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1)!)).toMatchObject({ waveId: id, state: 'cancelled' });
    const twice = await reopen(['waves', 'cancel', id]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/the wave is cancelled; it accepts: rollback/);
  });

  it('names the field at fault when the API refuses (exit 2); a bad plan file is a usage error (exit 1)', async () => {
    const id = await create(yamlPlan('cli-fields', 501, 510, 50));
    const zero = await reopen(['waves', 'set-rate', id, '0']);
    expect(zero.code).toBe(2);
    expect(zero.stderr).toMatch(/^refused: 400 Bad Request \(validation_failed\)/);
    expect(zero.stderr).toMatch(/^ {2}ratePerSecond: /m);
    const zeroJson = await reopen(['waves', 'set-rate', id, '0', '--json']);
    expect(JSON.parse(zeroJson.stdout)).toMatchObject({
      status: 400,
      code: 'validation_failed',
      field: 'ratePerSecond',
    });

    const badGate = planFile(
      'bad-gate.json',
      JSON.stringify({
        name: 'bad',
        selector: { type: 'cohorts', cohorts: ['general'] },
        protocols: ['imap'],
        ratePerSecond: 10,
        gates: [
          { name: 'g', metric: 'mailstore_error_rate', windowSeconds: 60, minSamples: 5, threshold: 3, action: 'halt' },
        ],
      }),
    );
    const gateRefused = await reopen(['waves', 'create', '-f', badGate]);
    expect(gateRefused.code).toBe(2);
    expect(gateRefused.stderr).toMatch(/^ {2}gates\[0\]\.threshold: /m);

    const broken = planFile('broken.yaml', 'name: x\nname: y\n');
    expect(await reopen(['waves', 'create', '-f', broken])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('is not valid YAML: Map keys must be unique'),
    });
    expect(await reopen(['waves', 'create', '-f', join(home, 'missing.yaml')])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('cannot read'),
    });
    // A viewer may read, not drive.
    const forbidden = await reopen(['waves', 'start', id], { key: 'viewer' });
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/^refused: 403 /);
    expect((await reopen(['waves', 'show', '00000000-0000-4000-8000-000000000000'])).code).toBe(2);
  });

  it('holds, shows, releases and enables an account with the support key; audit filters by login', async () => {
    const login = populationLogin(590);
    const why = ['--reason', 'customer on holiday', '--ticket', 'SUP-21'];
    const held = await reopen(['accounts', 'hold', login, ...why], { key: 'support' });
    expect(held.code).toBe(0);
    expect(held.stdout).toMatch(/^held\s+yes/m);
    const shown = (await reopen(['accounts', 'show', login])).stdout;
    expect(shown).toMatch(/^held\s+yes/m);
    expect(shown).toMatch(
      /^hold\s+customer on holiday \(ticket SUP-21, by support:\S+, \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\)$/m,
    );
    expect((await reopen(['accounts', 'release', login, ...why], { key: 'support' })).stdout).toMatch(/^held\s+no/m);
    // enable waits for the operation's end and says what the mailstore did; the mailstore has it open.
    const enabled = await reopen(['accounts', 'enable', login, ...why, '--protocols', 'imap'], { key: 'support' });
    expect(enabled).toMatchObject({ code: 0, stderr: '' });
    expect(enabled.stdout).toMatch(
      new RegExp(
        `^operation \\S+: enable imap for ${literal(login)}: succeeded \\(applied\\) in [\\d.]+ m?s \\(ticket SUP-21\\)$`,
        'm',
      ),
    );
    expect(api.h.sim.account(login)?.protocols.imap).toBe(true);
    // show lists it among the account's recent operations.
    expect((await reopen(['accounts', 'show', login])).stdout).toMatch(
      /^operation\s+\S+ \S+ enable imap: succeeded \(applied\) in [\d.]+ m?s \(ticket SUP-21, by support:\S+\)$/m,
    );
    expect(await reopen(['accounts', 'hold', login, '--reason', 'x'], { key: 'support' })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("required option '--ticket <id>' not specified"),
    });
    const audit = JSON.parse((await reopen(['audit', '--login', login, '--action', 'support.*', '--json'])).stdout) as {
      items: { action: string; ticket: string }[];
    };
    expect(audit.items.map((e) => e.action)).toEqual(expect.arrayContaining(['support.hold', 'support.unhold']));
    expect(audit.items.every((e) => e.ticket === 'SUP-21')).toBe(true);
  });

  it('disables an account with the support key: the operation runs, the mailstore closes it and ends its sessions', async () => {
    const login = populationLogin(595);
    const why = ['--reason', 'suspected takeover', '--ticket', 'SUP-22'];
    // Opened first (both protocols), with live sessions on the mailstore.
    const opened = await api.call('POST', `/accounts/${login}/enable`, {
      key: 'support',
      body: { reason: 'setup', ticket: 'SUP-22' },
    });
    expect(opened.status).toBe(202);
    expect(await operationDone(opened.body.id as string)).toMatchObject({ state: 'succeeded' });
    expect(api.h.sim.account(login)?.protocols).toEqual({ imap: true, pop3: true });
    const sessions = await fetch(`${api.h.sim.adminUrl}/accounts/${encodeURIComponent(login)}/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ count: 3 }),
    });
    expect(sessions.status).toBe(200);
    expect(api.h.sim.account(login)?.sessions).toBe(3);

    const disabled = await reopen(
      ['accounts', 'disable', login, ...why, '--protocols', 'pop3', '--json', '--no-wait'],
      { key: 'support' },
    );
    expect(disabled).toMatchObject({ code: 0, stderr: '' });
    const op = JSON.parse(disabled.stdout) as { id: string };
    // --no-wait: the answer of the POST, queued.
    expect(op).toMatchObject({
      login,
      kind: 'disable',
      protocols: ['pop3'],
      state: 'queued',
      reason: 'suspected takeover',
      ticket: 'SUP-22',
    });
    expect(await operationDone(op.id)).toMatchObject({ kind: 'disable', state: 'succeeded', outcome: 'applied' });
    expect(api.h.sim.account(login)).toMatchObject({ protocols: { imap: true, pop3: false }, sessions: 0 });
    const [row] = await api.h.db.dataSource.query<{ kind: string; state: string; protocols: string[] }[]>(
      `SELECT kind, state, protocols FROM operations WHERE id = $1`,
      [op.id],
    );
    expect(row).toEqual({ kind: 'disable', state: 'succeeded', protocols: ['pop3'] });
    expect((await reopen(['accounts', 'show', login])).stdout).toMatch(/^access\s+imap open, pop3 closed$/m);

    // Without --protocols: both, in the operator's words, once the mailstore answered (no need to poll).
    const both = await reopen(['accounts', 'disable', login, ...why], { key: 'support' });
    expect(both.code).toBe(0);
    const plain = new RegExp(
      `^operation (\\S+): disable imap, pop3 for ${literal(login)}: succeeded \\(applied\\) in [\\d.]+ m?s \\(ticket SUP-22\\)$`,
    );
    expect(both.stdout.trim()).toMatch(plain);
    expect(api.h.sim.account(login)?.protocols).toEqual({ imap: false, pop3: false });
    const [done] = await api.h.db.dataSource.query<{ state: string; outcome: string }[]>(
      `SELECT state, outcome FROM operations WHERE id = $1`,
      [plain.exec(both.stdout.trim())![1]],
    );
    expect(done).toEqual({ state: 'succeeded', outcome: 'applied' });
    expect((await api.call('GET', `/accounts/${login}`, { key: 'support' })).body.access).toMatchObject({
      imap: false,
      pop3: false,
    });

    // An ops key may not: support changes are the support role's (exit 2, nothing queued).
    const forbidden = await reopen(['accounts', 'disable', login, ...why]);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(/^refused: 403 /);
    const audit = JSON.parse(
      (await reopen(['audit', '--login', login, '--action', 'support.disable*', '--json'])).stdout,
    ) as { items: { action: string }[] };
    expect(audit.items.filter((e) => e.action === 'support.disable_requested')).toHaveLength(2);
    expect(audit.items.filter((e) => e.action === 'support.disabled')).toHaveLength(2);
  });

  it('an enable the mailstore refuses ends with exit 6 and its outcome printed', async () => {
    const login = populationLogin(597);
    api.h.sim.setFaults({ notFoundAccounts: [login] });
    try {
      const refused = await reopen(['accounts', 'enable', login, '--reason', 'r', '--ticket', 'SUP-23'], {
        key: 'support',
      });
      expect(refused.code).toBe(6);
      const line = new RegExp(`^operation (\\S+): enable imap, pop3 for ${literal(login)}: failed \\((\\S+)\\) in .+$`);
      expect(refused.stdout.trim()).toMatch(line);
      const [, id, outcome] = line.exec(refused.stdout.trim())!;
      const [row] = await api.h.db.dataSource.query<{ state: string; outcome: string }[]>(
        `SELECT state, outcome FROM operations WHERE id = $1`,
        [id],
      );
      expect(row).toEqual({ state: 'failed', outcome });
    } finally {
      api.h.sim.setFaults({});
    }
    expect(api.h.sim.account(login)?.protocols).toEqual({ imap: false, pop3: false });
  });

  it('approvals: a start refused for a second key (exit 2, the request named), approved with another ops key', async () => {
    const id = await create(yamlPlan('cli-approval', 571, 580, 50, 'approvalPolicy:\n  require: [start]\n'));
    const refused = await reopen(['waves', 'start', id]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/^refused: 409 Conflict \(approval_required\)/);
    const approvalId = /reopen approvals approve (\S+)`/.exec(refused.stderr)?.[1] ?? '';
    expect(approvalId).toMatch(/^[0-9a-f-]{36}$/);

    const listed = await reopen(['approvals', 'list', '--wave', id]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${approvalId}\\s+${id}\\s+start\\s+start\\s+pending`));
    const shown = await reopen(['approvals', 'show', approvalId]);
    expect(shown.stdout).toMatch(/now {7}plan and counts unchanged/);

    const self = await reopen(['approvals', 'approve', approvalId]);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/403 Forbidden \(self_approval\)/);
    const approved = await reopen(['approvals', 'approve', approvalId, '--note', 'plan read'], { key: 'ops2' });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(
      new RegExp(`approval  ${approvalId}: start of wave ${id} \\(rule start\\), approved`),
    );

    const started = await reopen(['waves', 'start', id]);
    expect(started).toMatchObject({ code: 0, stdout: `wave ${id}: draft → running\n` });
    const rejected = await reopen(['approvals', 'reject', approvalId, '--reason', 'late'], { key: 'ops2' });
    expect(rejected.code).toBe(2);
    expect(rejected.stderr).toMatch(/\(approval_not_pending\)/);
  });

  it('redelivers failed notifications once the receiver is back: one with --delivery, then every one', async () => {
    let gone = true;
    receiver.answer(() => (gone ? { kind: 'status', status: 410 } : { kind: 'ok' }));
    const sub = await api.call('POST', '/subscriptions', {
      body: { name: 'cli-gone', url: `${receiver.url}/cli`, kinds: ['wave.scheduled'] },
    });
    expect(sub.status).toBe(201);
    const subId = sub.body.id as string;
    // Two events of one wave, both given up after NOTIFY_MAX_ATTEMPTS (2) while the receiver answers 410.
    const id = await create(yamlPlan('cli-notified', 591, 600, 50, "startLocal: '2099-01-05T08:00'\ntimeZone: UTC\n"));
    for (const command of ['schedule', 'unschedule', 'schedule'])
      expect((await api.call('POST', `/waves/${id}/${command}`)).status).toBe(200);
    const deliveries = async (state: string) =>
      (
        await api.call<{ items: { id: string; kind: string }[] }>(
          'GET',
          `/subscriptions/${subId}/deliveries?state=${state}`,
        )
      ).body.items;
    const failed = await pollUntil(
      async () => {
        const items = await deliveries('failed');
        return items.length === 2 ? items : undefined;
      },
      { timeoutMs: 30_000, description: 'both deliveries given up' },
    );
    expect(failed.map((d) => d.kind)).toEqual(['wave.scheduled', 'wave.scheduled']);
    const [second, first] = failed; // newest first
    const dbState = async (deliveryId: string) =>
      (
        await api.h.db.dataSource.query<{ state: string }[]>(
          `SELECT state FROM notification_deliveries WHERE id = $1`,
          [deliveryId],
        )
      )[0].state;
    expect(await dbState(first.id)).toBe('failed');

    gone = false;
    const one = await reopen(['subscriptions', 'redeliver', subId, '--delivery', first.id, '--json']);
    expect(one).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(one.stdout)).toEqual({ redelivered: [first.id] });
    await pollUntil(async () => (await dbState(first.id)) === 'delivered', { description: 'the one redelivered' });
    expect(await dbState(second.id)).toBe('failed');
    expect((await deliveries('failed')).map((d) => d.id)).toEqual([second.id]);

    const every = await reopen(['subscriptions', 'redeliver', subId]);
    expect(every).toMatchObject({ code: 0, stdout: `1 deliveries pending again: ${second.id}\n` });
    await pollUntil(async () => (await dbState(second.id)) === 'delivered', { description: 'the rest redelivered' });
    expect((await api.call('GET', `/subscriptions/${subId}`)).body.deliveries).toMatchObject({
      pending: 0,
      failed: 0,
      delivered: 2,
      lastFailure: null,
    });
    const acknowledged = receiver.acknowledged('/cli').map((r) => JSON.parse(r.body) as JsonNotification);
    expect(acknowledged.map((n) => [n.kind, n.wave?.id])).toEqual([
      ['wave.scheduled', id],
      ['wave.scheduled', id],
    ]);

    // Nothing failed left; a delivered one is not a failed delivery (404); a viewer may not (403).
    expect(await reopen(['subscriptions', 'redeliver', subId])).toMatchObject({
      code: 0,
      stdout: 'no failed delivery to send again\n',
    });
    expect(JSON.parse((await reopen(['subscriptions', 'redeliver', subId, '--json'])).stdout)).toEqual({
      redelivered: [],
    });
    const notFailed = await reopen(['subscriptions', 'redeliver', subId, '--delivery', first.id]);
    expect(notFailed.code).toBe(2);
    expect(notFailed.stderr).toMatch(/^refused: 404 .*\(delivery_not_found\)/);
    const viewer = await reopen(['subscriptions', 'redeliver', subId], { key: 'viewer' });
    expect(viewer.code).toBe(2);
    expect(viewer.stderr).toMatch(/^refused: 403 /);
    expect((await api.call('POST', `/waves/${id}/cancel`)).status).toBe(200);
  });

  it('pause --all stops every running wave (the emergency stop), each pause audited; then none is running', async () => {
    // Accounts of their own (601–640): every earlier login has been opened by another test's wave.
    await api.h.importPopulation({ count: 640, seed: 7, leakedShare: 0 });
    const ids = [await create(yamlPlan('cli-stop-a', 601, 620, 1)), await create(yamlPlan('cli-stop-b', 621, 640, 1))];
    for (const id of ids) expect((await reopen(['waves', 'start', id])).code).toBe(0);
    for (const id of ids) expect((await waveRow(id)).state).toBe('running');

    const stop = await reopen(['waves', 'pause', '--all']);
    expect({ code: stop.code, stderr: stop.stderr }).toEqual({ code: 0, stderr: '' });
    for (const id of ids)
      expect(stop.stdout).toMatch(new RegExp(`^wave ${id} "cli-stop-[ab]": running → paused$`, 'm'));
    expect(stop.stdout).toMatch(/^\d+ paused; no wave is running\n$/m);
    for (const id of ids) {
      expect((await waveRow(id)).state).toBe('paused');
      const audit = JSON.parse((await reopen(['audit', '--wave', id, '--action', 'wave.pause', '--json'])).stdout) as {
        items: { action: string; actor: string }[];
      };
      expect(audit.items).toEqual([
        expect.objectContaining({ action: 'wave.pause', actor: `ops:${api.keyNames.ops}` }),
      ]);
    }
    expect((await api.call('GET', '/waves?state=running', { key: 'viewer' })).body.items).toEqual([]);

    // Nothing left to stop: said, exit 0; --json gives both lists. An id and --all together are a usage error.
    const again = await reopen(['waves', 'pause', '--all', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ paused: [], stillRunning: [] });
    const both = await reopen(['waves', 'pause', ids[0], '--all']);
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('give a wave id or --all (not both)');
    for (const id of ids) expect((await reopen(['waves', 'cancel', id])).code).toBe(0);
  });

  it('reads a profile only from a private file, as ssh reads a key', async () => {
    const file = join(home, 'profiles.json');
    writeFileSync(
      file,
      JSON.stringify({
        default: 'ci',
        profiles: { ci: { url: `${api.api.origin}/api/v1/`, apiKey: api.secrets.viewer } },
      }),
    );
    chmodSync(file, 0o644);
    const env = { REOPEN_PROFILES: file };
    expect(await reopen(['waves', 'list'], { key: null, env })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining(`permissions 0644 for ${file} are too open`),
    });
    chmodSync(file, 0o600);
    expect(await reopen(['waves', 'list', '--json'], { key: null, env })).toMatchObject({ code: 0 });
    expect(await reopen(['--profile', 'ci', 'waves', 'list'], { key: null, env })).toMatchObject({ code: 0 });
    expect(await reopen(['--profile', 'prod', 'waves', 'list'], { key: null, env })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('no profile "prod"'),
    });
  });

  it('exits 3 when the API cannot be reached, or does not answer within --timeout', async () => {
    const port = await closedPort();
    const down = await reopen(['waves', 'list'], { env: { REOPEN_URL: `http://127.0.0.1:${port}` } });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^cannot reach the API: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/waves: ECONNREFUSED/);

    // A listener that accepts and never answers: a hung API or proxy.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      const hung = await reopen(['waves', 'list', '--timeout', '1'], {
        env: { REOPEN_URL: `http://127.0.0.1:${(silent.address() as { port: number }).port}` },
      });
      expect(hung.code).toBe(3);
      expect(hung.stderr).toMatch(/^cannot reach the API: GET .*: no answer within 1 s\n/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      silent.close();
    }
  });
});

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `text` matched literally inside a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
