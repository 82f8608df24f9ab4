import { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { ApiKeyService } from '@app/core';
import {
  cleanRecord,
  countersAndTruth,
  inSnapshot,
  loginRange,
  pollUntil,
  recordVsMailstore,
  WorkerProcess,
} from '@app/testing';
import { ApiHarness, startApiHarness } from './api-harness';
import { ApiProcess, startApiProcess } from './api-process';
import { simNow } from '@app/mailstore-sim';

// The population (user<n>@example.test, the simulator's generated logins): three disjoint sets, so that the
// end-of-run check of one wave never sees accounts opened by another.
const RACE = { from: 1, to: 4000 }; // cohort `race`: the wave both APIs steer (every 25th leaked, not reset)
const DUEL = { from: 4001, to: 6400 }; // cohort `duel`: six waves of 400 for cancel-vs-resume, rollback-vs-pause
const BULK = { from: 10_001, to: 60_000 }; // cohort `bulk`: 50,000 accounts whose start takes a while
const SIM_ACCOUNTS = BULK.to;

const LIFECYCLE = ['schedule', 'unschedule', 'start', 'pause', 'resume', 'cancel', 'rollback'] as const;
type Command = 'pause' | 'resume' | 'cancel' | 'rollback' | 'start';
type Side = 'A' | 'B';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** The simulator (in this process) stamps calls with this clock. */
const now = simNow;
const rand = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));
const T0 = Date.now();
const verbose = (line: string) => {
  if (process.env.E2E_VERBOSE) process.stderr.write(`[api-races +${Date.now() - T0} ms] ${line}\n`);
};

/**
 * The state machine as ops sees it through the API (no gates, no ramp here), written out independently of the
 * domain module: what a command does to a state, null when it is refused (409).
 */
function step(state: string, command: Command): { to: string; noop: boolean } | null {
  const table: Record<string, Partial<Record<Command, { to: string; noop: boolean }>>> = {
    draft: { start: { to: 'running', noop: false }, cancel: { to: 'cancelled', noop: false } },
    running: {
      pause: { to: 'paused', noop: false },
      cancel: { to: 'cancelled', noop: false },
      rollback: { to: 'rolling_back', noop: false },
    },
    paused: {
      pause: { to: 'paused', noop: true },
      resume: { to: 'running', noop: false },
      cancel: { to: 'cancelled', noop: false },
      rollback: { to: 'rolling_back', noop: false },
    },
    completed: { rollback: { to: 'rolling_back', noop: false } },
    cancelled: { rollback: { to: 'rolling_back', noop: false } },
    rolling_back: { rollback: { to: 'rolling_back', noop: true } },
    rolled_back: { rollback: { to: 'rolled_back', noop: true } },
  };
  return table[state]?.[command] ?? null;
}
/** What the engine may do by itself between a command and the test's next read. */
const ENGINE_NEXT: Record<string, string[]> = { running: ['completed'], rolling_back: ['rolled_back'] };

interface Answer {
  side: Side;
  actor: string;
  command: Command;
  status: number;
  contentType: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a command result or a problem
  body: any;
  sentAt: number;
  answeredAt: number;
  ms: number;
}

/** One round: two commands sent at the same moment, one through each API process. */
interface Round {
  waveId: string;
  label: string;
  /** The largest audit_log id before the round: the round's rows come after it. */
  mark: number;
  before: string;
  answers: Answer[];
  after: string;
}

interface AuditRow {
  id: number;
  actor: string;
  action: string;
  from: string | null;
  to: string | null;
}

/**
 * Commands from two API processes at once, and API processes killed mid-command (issue 14), over real HTTP against
 * the built API (child processes), one worker process, PostgreSQL, Redis and the simulator. Every test ends with
 * the end-of-run check of the waves it drove (one terminal outcome and one terminal ledger row per member,
 * counters equal the truth, the simulator's open accounts equal the service's enabled ones).
 */
describe('commands from two API processes at once, and APIs killed mid-command', () => {
  let api: ApiHarness;
  let apiB: ApiProcess;
  let worker: ChildProcess;
  const sides = {} as Record<Side, { origin: string; secret: string; actor: string }>;
  /** API processes a test started (booting or up) and kills itself (not the harness's: it stops those). */
  let own: Promise<ApiProcess>[] = [];

  const q = <T>(sql: string, params: unknown[] = []) => api.h.db.dataSource.query<T[]>(sql, params);
  const count = async (sql: string, params: unknown[]) => Number((await q<{ n: string }>(sql, params))[0].n);
  const waveState = async (id: string) => (await api.h.waveStatus(id)).state;
  const maxAuditId = async () =>
    Number((await q<{ n: string | null }>(`SELECT max(id) AS n FROM audit_log`))[0].n ?? 0);

  /** A lifecycle command through one API process, timed with the simulator's clock. */
  const send = async (side: Side, waveId: string, command: Command, origin = sides[side].origin): Promise<Answer> => {
    const sentAt = now();
    const res = await fetch(`${origin}/api/v1/waves/${waveId}/${command}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sides[side].secret}` },
    });
    const text = await res.text();
    const answeredAt = now();
    const contentType = res.headers.get('content-type') ?? '';
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* kept as text: the check reports it */
    }
    return {
      side,
      actor: sides[side].actor,
      command,
      status: res.status,
      contentType,
      body,
      sentAt,
      answeredAt,
      ms: answeredAt - sentAt,
    };
  };

  const createWave = async (name: string, selector: unknown, o: Record<string, unknown> = {}) => {
    const created = await api.call('POST', '/waves', {
      body: { name, selector, protocols: ['imap', 'pop3'], ratePerSecond: 200, batchSize: 5, concurrency: 4, ...o },
    });
    expect(created.status).toBe(201);
    return created.body.id as string;
  };

  /** The counters and the truth in one snapshot (the worker may be settling batches meanwhile). */
  const snapshotCounters = (id: string) =>
    inSnapshot(api.h.db.dataSource, async (runner) => {
      const { counters, truth } = await countersAndTruth(runner, id);
      const [wave] = (await runner.query(
        `SELECT w.state, w.member_count, w.version, w.membership_frozen_at IS NOT NULL AS frozen,
                w.started_at IS NOT NULL AS started, w.completed_at IS NOT NULL AS "completedAt",
                w.rollback_started_at IS NOT NULL AS "rollbackStarted",
                (SELECT count(*)::int FROM wave_members m WHERE m.wave_id = w.id) AS members,
                (SELECT count(*)::int FROM wave_batches b WHERE b.wave_id = w.id) AS batches,
                (SELECT count(*)::int FROM wave_members m WHERE m.wave_id = w.id AND m.state = 'pending') AS pending,
                (SELECT count(*)::int FROM wave_members m WHERE m.wave_id = w.id AND m.state = 'cancelled') AS cancelled,
                (SELECT coalesce(jsonb_object_agg(action, n), '{}') FROM (
                   SELECT action, count(*)::int AS n FROM audit_log WHERE wave_id = w.id AND action LIKE 'wave.%'
                    GROUP BY action) a) AS audit
           FROM waves w WHERE w.id = $1`,
        [id],
      )) as {
        state: string;
        member_count: number | null;
        version: number;
        frozen: boolean;
        started: boolean;
        completedAt: boolean;
        rollbackStarted: boolean;
        members: number;
        batches: number;
        pending: number;
        cancelled: number;
        audit: Record<string, number>;
      }[];
      return { wave, counters, truth };
    });

  /**
   * At rest: no claimed batch, no member (or rollback) in flight, still so after every pump had time to notice a
   * command (a pump re-checks at least once a second). Does not throw: what is left is the check's to report.
   */
  const waitAtRest = (id: string) => api.h.waitAtRest(id, { quietMs: 1100, intervalMs: 200 });

  /** The fault suite's end-of-run check (libs/testing/src/wave-record.ts) for a wave at rest. */
  async function expectRecordMatchesMailstore(
    waveId: string,
    members: string[],
    opts: { paused?: boolean; rolledBack?: boolean } = {},
  ): Promise<void> {
    expect(await recordVsMailstore(api.h, waveId, members, opts)).toEqual(cleanRecord(waveId));
  }

  /** The API answers of a command: 2xx or a 409 problem, never anything else. */
  const badAnswer = (a: Answer, maxMs: number | null): string | null => {
    const tag = `${a.side} ${a.command} -> ${a.status} in ${Math.round(a.ms)} ms`;
    if (maxMs !== null && a.ms >= maxMs) return `${tag}: slower than ${maxMs} ms`;
    if (a.status === 200 || a.status === 202) {
      return a.body && typeof a.body.noop === 'boolean' && a.body.state
        ? null
        : `${tag}: body ${JSON.stringify(a.body)}`;
    }
    if (a.status === 409) {
      return /^application\/problem\+json/.test(a.contentType) &&
        a.body?.code === 'illegal_transition' &&
        a.body?.command === a.command &&
        typeof a.body?.currentState === 'string'
        ? null
        : `${tag}: ${a.contentType} ${JSON.stringify(a.body)}`;
    }
    return `${tag}: ${typeof a.body === 'string' ? a.body.slice(0, 200) : JSON.stringify(a.body)}`;
  };

  /**
   * Whether the two answers and the state read after the round come from the two commands in some order (the
   * engine may also have moved the wave by itself before, between or after them: a rollback finishing).
   */
  const explains = (r: Round): boolean => {
    const moves = (s: string) => [s, ...(ENGINE_NEXT[s] ?? [])];
    const walk = (s: string, left: Answer[]): boolean => {
      if (!left.length) return moves(s).includes(r.after);
      return left.some((a, i) => {
        const rest = left.filter((_, j) => j !== i);
        return moves(s).some((from) => {
          const t = step(from, a.command);
          if (t === null) return a.status === 409 && a.body?.currentState === from && walk(from, rest);
          return (
            (a.status === 200 || a.status === 202) &&
            a.body?.from === from &&
            a.body?.state === t.to &&
            a.body?.noop === t.noop &&
            walk(t.to, rest)
          );
        });
      });
    };
    return walk(r.before, r.answers);
  };

  /** Fires two commands at once, one through each API, and records the round. */
  const round = async (waveId: string, label: string, a: Command, b: Command, first: Side = 'A'): Promise<Round> => {
    const mark = await maxAuditId();
    const before = await waveState(waveId);
    const second: Side = first === 'A' ? 'B' : 'A';
    const answers = await Promise.all([send(first, waveId, a), send(second, waveId, b)]);
    return { waveId, label, mark, before, answers, after: await waveState(waveId) };
  };

  /**
   * Checks every round of one wave, at rest: answers, states, the audit log (exactly one `wave.<command>` row per
   * command that answered 2xx and not noop, in the round it answered in, by the key that sent it, chaining from
   * the state before to the state after), and the simulator's call log: once a pause answered 2xx, no call for
   * the wave starts until a resume (or rollback) that committed after that pause was sent; once a cancel or a
   * rollback answered 2xx, no forward call starts. A resume's commit happens between its sending and its answer,
   * so "sent" is the earliest instant a call may legitimately start again.
   */
  async function checkRounds(waveId: string, rounds: Round[]) {
    const problems: string[] = [];
    const actors = [sides.A.actor, sides.B.actor];
    const rows = (
      await q<AuditRow & { id: string }>(
        `SELECT id, actor, action, before->>'state' AS "from", after->>'state' AS "to" FROM audit_log
          WHERE wave_id = $1 AND action = ANY($4::text[]) AND actor = ANY($2::text[]) AND id > $3 ORDER BY id`,
        [waveId, actors, rounds[0].mark, LIFECYCLE.map((c) => `wave.${c}`)],
      )
    ).map((r) => ({ ...r, id: Number(r.id) }));
    const rowOf = new Map<Answer, AuditRow>();
    const answerOf = new Map<AuditRow, Answer>();
    rounds.forEach((r, k) => {
      const end = rounds[k + 1]?.mark ?? Infinity;
      const inRound = rows.filter((row) => row.id > r.mark && row.id <= end);
      for (const a of r.answers) {
        // Prompt: not waiting on a batch call or a lease (seconds); 3 s leaves room for one answer delayed by a
        // descheduled process on this 2-core machine, where 1 s did not.
        const bad = badAnswer(a, 3000);
        if (bad) problems.push(`${r.label}: ${bad}`);
      }
      if (!explains(r)) {
        problems.push(
          `${r.label}: ${r.before} + [${r.answers
            .map(
              (a) =>
                `${a.side} ${a.command} ${a.status} ${a.body?.from ?? a.body?.currentState}->${a.body?.state ?? ''}${a.body?.noop ? ' noop' : ''}`,
            )
            .join(', ')}] -> ${r.after} is not explained by the two commands`,
        );
      }
      const expected = r.answers
        .filter((a) => (a.status === 200 || a.status === 202) && a.body?.noop === false)
        .map((a) => `${a.actor} wave.${a.command} ${a.body.from}->${a.body.state}`)
        .sort();
      const got = inRound.map((row) => `${row.actor} ${row.action} ${row.from}->${row.to}`).sort();
      if (JSON.stringify(expected) !== JSON.stringify(got))
        problems.push(`${r.label}: audit rows [${got.join('; ')}], answers [${expected.join('; ')}]`);
      for (let i = 1; i < inRound.length; i++)
        if (inRound[i - 1].to !== inRound[i].from)
          problems.push(`${r.label}: audit rows do not chain: ${inRound[i - 1].to} then ${inRound[i].from}`);
      for (const a of r.answers) {
        const row = inRound.find((x) => x.actor === a.actor && x.action === `wave.${a.command}`);
        if (row && a.body?.noop === false) {
          rowOf.set(a, row);
          answerOf.set(row, a);
        }
      }
    });

    const calls = api.h.batchCalls(waveId);
    const resumptions = rows.filter((r) => r.action === 'wave.resume' || r.action === 'wave.rollback');
    let checkedPauses = 0;
    rounds.forEach((r) => {
      for (const a of r.answers) {
        if (a.status !== 200 && a.status !== 202) continue;
        if (a.command === 'pause') {
          checkedPauses++;
          // A noop pause found the wave paused: the pause it relies on committed before this round began or in it.
          const anchor = a.body.noop ? r.mark : (rowOf.get(a)?.id ?? r.mark);
          const next = resumptions.find((x) => x.id > anchor);
          const until = next ? (answerOf.get(next)?.sentAt ?? Infinity) : Infinity;
          const late = calls.filter((c) => c.startedAt > a.answeredAt && c.startedAt < until);
          if (late.length) {
            problems.push(
              `${r.label}: ${late.length} call(s) started after ${a.side}'s pause answered${a.body.noop ? ' (noop)' : ''} ` +
                `(+${late.map((c) => (c.startedAt - a.answeredAt).toFixed(1)).join(', ')} ms; pause took ${a.ms.toFixed(0)} ms; ` +
                `next resume sent ${until === Infinity ? 'never' : `+${(until - a.answeredAt).toFixed(0)} ms`})`,
            );
          }
        }
        if (a.command === 'cancel' || a.command === 'rollback') {
          const late = calls.filter((c) => c.idempotencyKey!.includes('/forward/') && c.startedAt > a.answeredAt);
          if (late.length)
            problems.push(`${r.label}: ${late.length} forward call(s) started after ${a.side}'s ${a.command} answered`);
        }
      }
    });
    // Diagnostics, not asserted: a noop pause does not wait for the send permits the pause it relies on waits for,
    // so it can answer while calls permitted before that pause's commit may still start (within the send window).
    const noopAnsweredFirstMs = rounds.flatMap((r) => {
      const real = r.answers.find((a) => a.command === 'pause' && a.body?.noop === false);
      const noop = r.answers.find((a) => a.command === 'pause' && a.body?.noop === true);
      return real && noop && noop.answeredAt < real.answeredAt ? [Math.round(real.answeredAt - noop.answeredAt)] : [];
    });
    return { problems, checkedPauses, calls: calls.length, auditRows: rows.length, noopAnsweredFirstMs };
  }

  const startWorker = async () => (await WorkerProcess.start(api.h.env)).child;

  const kill = async (p: ApiProcess) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return;
    const exited = once(p.child, 'exit');
    p.child.kill('SIGKILL');
    await exited;
  };

  /**
   * Another API process on the same database and Redis, that this file kills itself. Booted ahead of need (a
   * process that is up before a kill and one started after it see the same database; booting takes seconds).
   */
  const freshApi = () => {
    const t = Date.now();
    const p = startApiProcess({ ...api.h.env }).then((x) => {
      verbose(`api booted in ${Date.now() - t} ms`);
      return x;
    });
    own.push(p);
    p.catch(() => undefined);
    return p;
  };

  /** Once the wave row can be locked, no transaction of a killed API holds it any more (committed or aborted). */
  const untilRowFree = (id: string) =>
    pollUntil(
      async () => {
        const runner = api.h.db.dataSource.createQueryRunner();
        await runner.connect();
        try {
          await runner.startTransaction();
          await runner.query(`SELECT 1 FROM waves WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, [id]);
          return true;
        } catch {
          return false;
        } finally {
          await runner.rollbackTransaction().catch(() => undefined);
          await runner.release();
        }
      },
      { timeoutMs: 20_000, intervalMs: 20, description: 'the killed command released the wave row' },
    );

  /** Statements of the API processes running right now whose text contains `fragment`. */
  const apiStatementActive = async (fragment: string) =>
    (await count(
      `SELECT count(*) AS n FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'reopen-api' AND state = 'active'
          AND position($1 in query) > 0`,
      [fragment],
    )) > 0;

  beforeAll(async () => {
    api = await startApiHarness('races', { accounts: SIM_ACCOUNTS });
    const lines = ['login,cohorts,leaked,password_changed_at'];
    for (let n = RACE.from; n <= DUEL.to; n++)
      lines.push(`user${n}@example.test,${n <= RACE.to ? 'race' : 'duel'},${n % 25 === 0},`);
    for (let n = BULK.from; n <= BULK.to; n++) lines.push(`user${n}@example.test,bulk,false,`);
    const imported = await api.call('POST', '/accounts/import', {
      raw: `${lines.join('\n')}\n`,
      headers: { 'content-type': 'text/csv' },
    });
    expect([imported.status, imported.body.inserted]).toEqual([200, lines.length - 1]);
    const keyB = await new ApiKeyService(api.h.db.owner).create('ops', 'ops-b-races');
    [apiB, worker] = await Promise.all([api.startAnotherApi(), startWorker()]);
    sides.A = { origin: api.api.origin, secret: api.secrets.ops, actor: `ops:${api.keyNames.ops}` };
    sides.B = { origin: apiB.origin, secret: keyB.secret, actor: `ops:${keyB.name}` };
  }, 90_000);

  afterEach(async () => {
    for (const p of own) await p.then(kill, () => undefined);
    own = [];
  });

  afterAll(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      const exited = once(worker, 'exit');
      worker.kill('SIGTERM');
      const timer = setTimeout(() => worker.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await api?.close();
  });

  it('serializes simultaneous pause/resume, cancel-vs-resume and rollback-vs-pause from two API processes', async () => {
    const t0 = Date.now();
    // The wave both APIs steer: 4000 accounts at 200/s in batches of 5 (40 calls a second while it runs).
    const race = await createWave('race', { type: 'cohorts', cohorts: ['race'] });
    expect((await send('A', race, 'start')).status).toBe(200);
    await pollUntil(() => api.h.batchCalls(race).length >= 5, { timeoutMs: 10_000, description: 'first calls' });

    const commands: [Command, Command][] = [
      ['pause', 'resume'],
      ['resume', 'pause'],
      ['pause', 'pause'],
      ['resume', 'resume'],
    ];
    const rounds: Round[] = [];
    for (let k = 0; k < 25; k++) {
      // Every pair in both directions; a random one otherwise, from whichever state the last round left.
      const [a, b] = k < 8 ? commands[k % 4] : commands[rand(0, 3)];
      rounds.push(await round(race, `race round ${k + 1}`, a, b, k % 2 ? 'B' : 'A'));
      await sleep(rand(60, 250)); // running: calls start; paused: none may
    }

    // Cancel against resume on paused waves, rollback against pause on running ones, each API on either side.
    const duels: { id: string; members: string[]; kind: 'cancel' | 'rollback' }[] = [];
    for (let i = 0; i < 6; i++) {
      const members = loginRange(DUEL.from + i * 400, DUEL.from + i * 400 + 399);
      const id = await createWave(
        `duel ${i}`,
        { type: 'logins', logins: members },
        {
          ratePerSecond: 100,
          batchSize: 10,
          concurrency: 2,
        },
      );
      expect((await send('A', id, 'start')).status).toBe(200);
      duels.push({ id, members, kind: i % 2 ? 'rollback' : 'cancel' });
    }
    await sleep(800);
    for (const d of duels.filter((x) => x.kind === 'cancel')) expect((await send('B', d.id, 'pause')).status).toBe(200);
    await sleep(300);
    const duelRounds = new Map<string, Round[]>();
    for (const [i, d] of duels.entries()) {
      const r =
        d.kind === 'cancel'
          ? await round(d.id, `duel ${i} cancel/resume`, 'cancel', 'resume', i % 4 ? 'B' : 'A')
          : await round(d.id, `duel ${i} rollback/pause`, 'rollback', 'pause', i % 4 === 1 ? 'A' : 'B');
      duelRounds.set(d.id, [r]);
    }
    // A second command of the same kinds on the stopped waves: refused or noop, never a 5xx, never audited twice.
    for (const [i, d] of duels.entries()) {
      const r =
        d.kind === 'cancel'
          ? await round(d.id, `duel ${i} again`, 'cancel', 'resume', 'B')
          : await round(d.id, `duel ${i} again`, 'rollback', 'pause', 'A');
      duelRounds.get(d.id)!.push(r);
    }

    // At rest: the race wave finishes fast, cancelled waves are rolled back too (their accounts closed again).
    if ((await waveState(race)) === 'paused') rounds.push(await round(race, 'race: final resume', 'resume', 'resume'));
    expect(await waveState(race)).toBe('running');
    const faster = await api.call('PATCH', `/waves/${race}`, { body: { ratePerSecond: 20_000, batchSize: 100 } });
    expect(faster.status).toBe(200);
    await api.h.untilWaveState(race, 'completed', { intervalMs: 100 });
    const rest = await Promise.all([race, ...duels.map((d) => d.id)].map((id) => waitAtRest(id)));
    expect(rest.every(Boolean)).toBe(true);

    const raceCheck = await checkRounds(race, rounds);
    const duelChecks = await Promise.all(duels.map((d) => checkRounds(d.id, duelRounds.get(d.id)!)));
    const problems = [...raceCheck.problems, ...duelChecks.flatMap((c) => c.problems)];
    const outcomes = [...rounds, ...[...duelRounds.values()].flat()].map(
      (r) =>
        `${r.before}+${r.answers.map((a) => `${a.side}.${a.command}=${a.status}${a.body?.noop ? 'n' : ''}`).join('/')}->${r.after}`,
    );
    const latencies = [...rounds, ...[...duelRounds.values()].flat()].flatMap((r) => r.answers.map((a) => a.ms));
    verbose(
      `rounds: ${outcomes.length}, pauses checked: ${raceCheck.checkedPauses}, race calls: ${raceCheck.calls}, ` +
        `max answer ${Math.max(...latencies).toFixed(0)} ms, noop pauses answered before the real one by ` +
        `[${raceCheck.noopAnsweredFirstMs.join(', ')}] ms\n  ${outcomes.join('\n  ')}`,
    );
    expect(problems).toEqual([]);
    // Each round moved the race wave somewhere (pause and resume both won at least once).
    expect(rounds.some((r) => r.after === 'paused') && rounds.some((r) => r.after === 'running')).toBe(true);

    await expectRecordMatchesMailstore(race, loginRange(RACE.from, RACE.to));
    for (const d of duels) {
      expect(await waveState(d.id)).toMatch(d.kind === 'cancel' ? /^cancelled$/ : /^(rolling_back|rolled_back)$/);
      if (d.kind === 'cancel') {
        await expectRecordMatchesMailstore(d.id, d.members);
        expect((await send('A', d.id, 'rollback')).status).toBe(200);
      }
    }
    for (const d of duels) await api.h.untilWaveState(d.id, 'rolled_back', { intervalMs: 100 });
    await Promise.all(duels.map((d) => waitAtRest(d.id)));
    for (const d of duels) await expectRecordMatchesMailstore(d.id, d.members, { rolledBack: true });
    verbose(`test 1 took ${Date.now() - t0} ms`);
  }, 60_000);

  const BULK_MEMBERS = loginRange(BULK.from, BULK.to);
  const bulkWave = (name: string) =>
    createWave(
      name,
      { type: 'cohorts', cohorts: ['bulk'] },
      { ratePerSecond: 4000, rollbackRatePerSecond: 20_000, batchSize: 200, concurrency: 4 },
    );

  /** Rolls a wave back through `via`, waits until it is rolled back and at rest, and runs the end-of-run check. */
  const rollBackAndCheck = async (id: string, via: ApiProcess) => {
    const answer = await send('A', id, 'rollback', via.origin);
    expect([answer.status, answer.body.state]).toEqual([200, 'rolling_back']);
    await api.h.untilWaveState(id, 'rolled_back', { intervalMs: 100 });
    expect(await waitAtRest(id)).toBe(true);
    await expectRecordMatchesMailstore(id, BULK_MEMBERS, { rolledBack: true });
  };

  type Trigger = { after: 'sent' } | { after: 'statement'; fragment: string } | { after: 'commit'; from: string };

  /**
   * Sends `command` through `victim` and SIGKILLs it `delayMs` after `trigger`: after sending, once the command's
   * bulk statement (an SQL fragment) is seen running in pg_stat_activity, or once its commit is visible (the wave
   * left `from`). Then waits until no transaction of the killed process holds the wave row. Returns what the
   * client saw and when.
   */
  const killMidCommand = async (
    victim: ApiProcess,
    id: string,
    command: Command,
    trigger: Trigger,
    delayMs: number,
  ) => {
    let answer = null as Answer | { error: string } | null;
    const request = send('A', id, command, victim.origin).then(
      (a) => (answer = a),
      (err: unknown) => (answer = { error: String(err) }),
    );
    const sentAt = now();
    let seenMs: number | null = null;
    if (trigger.after !== 'sent') {
      await pollUntil(
        async () =>
          answer !== null ||
          (trigger.after === 'statement'
            ? await apiStatementActive(trigger.fragment)
            : (await waveState(id)) !== trigger.from),
        { timeoutMs: 10_000, intervalMs: 2, description: `the ${command} running` },
      );
      if (answer === null) seenMs = now() - sentAt;
    }
    await sleep(delayMs);
    await kill(victim);
    const killedMs = now() - sentAt;
    await request;
    await untilRowFree(id);
    const got = answer as Answer | { error: string };
    const seen =
      trigger.after === 'sent'
        ? 'sent'
        : `${trigger.after} ${seenMs === null ? 'not seen' : `seen at ${seenMs.toFixed(0)} ms`}`;
    return {
      answered: 'status' in got ? got.status : null,
      description:
        `${command} killed at ${killedMs.toFixed(0)} ms (${seen}, +${delayMs} ms; ` +
        `${'status' in got ? `answered ${got.status}` : 'no answer'})`,
    };
  };

  /** A command through `via`, with when its bulk statement was seen running and when its commit became visible. */
  const timedCommand = async (via: ApiProcess, id: string, command: Command, fragment: string, from: string) => {
    let answer = null as Answer | null;
    const request = send('A', id, command, via.origin).then((a) => (answer = a));
    const sentAt = now();
    await pollUntil(async () => answer !== null || (await apiStatementActive(fragment)), { intervalMs: 2 });
    const seenMs = now() - sentAt;
    await pollUntil(async () => answer !== null || (await waveState(id)) !== from, { intervalMs: 2 });
    const commitMs = now() - sentAt;
    const a = await request;
    return { answer: a, seenMs, commitMs, statementMs: Math.max(1, commitMs - seenMs) };
  };

  it('a start killed mid-command (SIGKILL) leaves the wave untouched or fully started, and it can still run', async () => {
    const t0 = Date.now();
    const FREEZE = 'INSERT INTO wave_members';
    // How long the freeze of 50,000 takes here, from its statement seen running to its commit (measured below on
    // every start that runs to its end): kills are spread over it, and just after the commit.
    let freezeMs = 800;
    const plans: ((ms: number) => { trigger: Trigger; delayMs: number })[] = [
      () => ({ trigger: { after: 'sent' }, delayMs: rand(0, 40) }),
      (ms) => ({ trigger: { after: 'statement', fragment: FREEZE }, delayMs: rand(0, Math.round(ms * 0.5)) }),
      (ms) => ({ trigger: { after: 'statement', fragment: FREEZE }, delayMs: rand(Math.round(ms * 0.5), ms) }),
      () => ({ trigger: { after: 'commit', from: 'draft' }, delayMs: rand(0, 20) }),
    ];
    const outcomes: string[] = [];
    let victim = await freshApi();
    // The next process boots while this round runs (under load a boot takes seconds).
    let next = freshApi();
    for (const [i, plan] of plans.entries()) {
      const id = await bulkWave(`killed start ${i}`);
      const before = await snapshotCounters(id);
      const { trigger, delayMs } = plan(freezeMs);
      const killed = await killMidCommand(victim, id, 'start', trigger, delayMs);
      const first = await snapshotCounters(id);
      await sleep(300);
      await untilRowFree(id);
      const { wave, counters, truth } = await snapshotCounters(id);
      expect({ stable: first.wave.state }).toEqual({ stable: wave.state });
      const fresh = await next;
      next = freshApi();
      const viewed = await api.call('GET', `/waves/${id}`, { origin: fresh.origin, key: 'viewer' });
      expect([viewed.status, viewed.body.state, viewed.body.memberCount]).toEqual([200, wave.state, wave.member_count]);
      let outcome = `${killed.description} -> ${wave.state}`;
      if (wave.state === 'draft') {
        // Not at all: no member, no counter, no batch, no audit row of the start, the row as it was.
        expect({ wave, counters, truth }).toEqual({ wave: before.wave, counters: {}, truth: {} });
        const started = await timedCommand(fresh, id, 'start', FREEZE, 'draft');
        expect([started.answer.status, started.answer.body.from, started.answer.body.state]).toEqual([
          200,
          'draft',
          'running',
        ]);
        freezeMs = Math.round(started.statementMs);
        outcome += `; started again: freeze seen at ${started.seenMs.toFixed(0)} ms, committed at ${started.commitMs.toFixed(0)} ms, answered at ${started.answer.ms.toFixed(0)} ms`;
      } else {
        // Fully: every member frozen, counters equal the truth, one start and one freeze in the audit log.
        expect(killed.answered === null || killed.answered === 200).toBe(true);
        expect({ wave: { ...wave, batches: 0, pending: 0 }, counters }).toEqual({
          wave: {
            ...before.wave,
            state: 'running',
            member_count: BULK_MEMBERS.length,
            version: before.wave.version + 1,
            frozen: true,
            started: true,
            members: BULK_MEMBERS.length,
            batches: 0,
            pending: 0,
            audit: { 'wave.created': 1, 'wave.start': 1, 'wave.membership_frozen': 1 },
          },
          counters: truth,
        });
        expect(counters.total).toBe(BULK_MEMBERS.length);
      }
      outcomes.push(outcome);
      verbose(outcome);
      // It runs (the reconciler adds pumps the killed API never queued), then rolls back, through the fresh API.
      await pollUntil(async () => ((await api.h.counters(id)).enabled ?? 0) >= 1000, {
        timeoutMs: 15_000,
        description: 'the wave enabling accounts after the kill',
      });
      expect((await snapshotCounters(id)).wave.audit).toMatchObject({ 'wave.start': 1, 'wave.membership_frozen': 1 });
      await rollBackAndCheck(id, fresh);
      verbose(`rep ${i} done`);
      victim = fresh;
    }
    verbose(`killed starts (${Date.now() - t0} ms):\n  ${outcomes.join('\n  ')}`);
  }, 60_000);

  /**
   * A paused wave of 50,000 (a few thousand enabled), `command` sent through an API killed mid-statement, then one
   * killed just after the commit: either nothing happened (paused, as it was) or all of it (nothing pending, one
   * audit row), and the wave still rolls back with the end-of-run check holding.
   */
  const killedStop = async (command: 'cancel' | 'rollback') => {
    const t0 = Date.now();
    // cancelPending runs in both: "UPDATE wave_members SET state = 'cancelled'" over ~48,000 pending members.
    const CANCEL = `SET state = 'cancelled'`;
    let statementMs = 500;
    const plans: ((ms: number) => { trigger: Trigger; delayMs: number })[] = [
      (ms) => ({ trigger: { after: 'statement', fragment: CANCEL }, delayMs: rand(0, Math.round(ms * 0.9)) }),
      // Around the commit: a cancel from paused answers as soon as it commits, a rollback queues its pumps first.
      command === 'cancel'
        ? (ms) => ({
            trigger: { after: 'statement', fragment: CANCEL },
            delayMs: rand(Math.round(ms * 0.8), Math.round(ms * 1.1)),
          })
        : () => ({ trigger: { after: 'commit', from: 'paused' }, delayMs: rand(0, 10) }),
    ];
    const outcomes: string[] = [];
    let victim = await freshApi();
    // The next process boots while this round runs (under load a boot takes seconds).
    let next = freshApi();
    for (const plan of plans) {
      const id = await bulkWave(`killed ${command}`);
      expect((await send('A', id, 'start')).status).toBe(200);
      await pollUntil(async () => ((await api.h.counters(id)).enabled ?? 0) >= 1000, {
        timeoutMs: 15_000,
        description: '1000 enabled',
      });
      expect((await send('B', id, 'pause')).status).toBe(200);
      expect(await waitAtRest(id)).toBe(true);
      const before = await snapshotCounters(id);
      expect(before.counters).toEqual(before.truth);

      const { trigger, delayMs } = plan(statementMs);
      const killed = await killMidCommand(victim, id, command, trigger, delayMs);
      await sleep(300);
      await untilRowFree(id);
      const { wave, counters, truth } = await snapshotCounters(id);
      const fresh = await next;
      next = freshApi();
      let outcome = `${killed.description} -> ${wave.state}`;
      expect(counters).toEqual(truth);
      if (wave.state === 'paused') {
        // Not at all: the row, its members and the audit log as they were.
        expect(wave).toEqual(before.wave);
        const again = await timedCommand(fresh, id, command, CANCEL, 'paused');
        expect([again.answer.status, again.answer.body.from]).toEqual([200, 'paused']);
        statementMs = Math.round(again.statementMs);
        outcome += `; sent again: statement seen at ${again.seenMs.toFixed(0)} ms, committed at ${again.commitMs.toFixed(0)} ms`;
      } else {
        // Fully: nothing pending, every pending member cancelled, one audit row of the command.
        expect({ state: wave.state, pending: wave.pending, audit: wave.audit[`wave.${command}`] }).toEqual({
          state: command === 'cancel' ? 'cancelled' : expect.stringMatching(/^(rolling_back|rolled_back)$/),
          pending: 0,
          audit: 1,
        });
        expect(wave.cancelled).toBe(before.wave.pending);
        expect(command === 'cancel' ? wave.completedAt : wave.rollbackStarted).toBe(true);
      }
      outcomes.push(outcome);
      verbose(outcome);
      expect((await snapshotCounters(id)).wave.audit[`wave.${command}`]).toBe(1);
      if (command === 'cancel') {
        expect(await waitAtRest(id)).toBe(true);
        await expectRecordMatchesMailstore(id, BULK_MEMBERS);
        await rollBackAndCheck(id, fresh);
      } else {
        await api.h.untilWaveState(id, 'rolled_back', { intervalMs: 100 });
        expect(await waitAtRest(id)).toBe(true);
        await expectRecordMatchesMailstore(id, BULK_MEMBERS, { rolledBack: true });
      }
      victim = fresh;
    }
    verbose(`killed ${command} (${Date.now() - t0} ms):\n  ${outcomes.join('\n  ')}`);
  };

  it(
    'a cancel killed mid-command leaves the wave paused as it was or fully cancelled',
    () => killedStop('cancel'),
    60_000,
  );

  it(
    'a rollback killed mid-command leaves the wave paused as it was or fully rolling back',
    () => killedStop('rollback'),
    60_000,
  );

  it('an import killed mid-upload leaves nothing of it behind', async () => {
    const t0 = Date.now();
    const fingerprint = async () =>
      (
        await q<{ accounts: number; digest: string; imports: number; epoch: string; imported: number }>(
          `SELECT (SELECT count(*)::int FROM accounts) AS accounts,
                  (SELECT md5(string_agg(login || cohorts::text || leaked || coalesce(password_changed_at::text, '-')
                                         || version || imap_enabled || pop3_enabled, ',' ORDER BY id)) FROM accounts) AS digest,
                  (SELECT count(*)::int FROM audit_log WHERE action = 'accounts.imported') AS imports,
                  (SELECT epoch::text FROM eligibility_epoch WHERE id = 1) AS epoch,
                  (SELECT count(*)::int FROM accounts WHERE login LIKE 'import%') AS imported`,
        )
      )[0];
    const before = await fingerprint();
    const outcomes: string[] = [];
    let victim = await freshApi();
    // The next process boots while this round runs (under load a boot takes seconds).
    let next = freshApi();
    const plans = [
      { paused: true, rows: rand(5_000, 60_000) },
      { paused: false, rows: rand(20_000, 80_000) },
      { paused: true, rows: rand(100_000, 180_000) },
    ];
    for (const [i, plan] of plans.entries()) {
      // 2,000 changed existing accounts (leaked now) first, then 200,000 new ones: ~9 MB.
      const TOTAL = 202_000;
      let produced = 0;
      let release!: () => void;
      const hold = new Promise<void>((r) => (release = r));
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (produced >= TOTAL) return controller.close();
          if (plan.paused && produced >= plan.rows) await hold; // the client stalls mid-upload
          const lines: string[] = produced === 0 ? ['login,cohorts,leaked,password_changed_at'] : [];
          for (let k = 0; k < 1000 && produced < TOTAL; k++, produced++) {
            lines.push(
              produced < 2000
                ? `user${BULK.from + produced}@example.test,bulk|changed,true,`
                : `import${i}-${produced}@example.test,general,false,`,
            );
          }
          controller.enqueue(encoder.encode(`${lines.join('\n')}\n`));
        },
      });
      const request = fetch(`${victim.origin}/api/v1/accounts/import`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api.secrets.ops}`, 'content-type': 'text/csv' },
        body,
        duplex: 'half',
      }).then(
        async (res) => `answered ${res.status} ${await res.text()}`,
        () => 'no answer',
      );
      // The server copied at least `rows` lines into its staging table (flowing: the client keeps sending).
      await pollUntil(
        async () =>
          Number(
            (
              await q<{ n: string | null }>(
                `SELECT max(tuples_processed) AS n FROM pg_stat_progress_copy WHERE datname = current_database()`,
              )
            )[0].n ?? 0,
          ) >=
          plan.rows - 4000,
        { timeoutMs: 20_000, intervalMs: 5, description: 'the upload copied into staging' },
      );
      const copied = Number(
        (
          await q<{ n: string | null }>(
            `SELECT max(tuples_processed) AS n FROM pg_stat_progress_copy WHERE datname = current_database()`,
          )
        )[0].n ?? 0,
      );
      await sleep(rand(0, 50));
      await kill(victim);
      release();
      const answer = await request;
      const fresh = await next;
      next = freshApi();
      // The killed transaction ends once PostgreSQL reads the closed connection.
      await pollUntil(
        async () =>
          (await count(
            `SELECT count(*) AS n FROM pg_stat_activity
              WHERE datname = current_database() AND application_name = 'reopen-api' AND state <> 'idle'
                AND position('import_staging' in query) > 0`,
            [],
          )) === 0,
        { timeoutMs: 10_000, description: 'the killed import gone' },
      );
      outcomes.push(`${plan.paused ? 'stalled' : 'flowing'} at ~${copied} rows copied (${answer})`);
      expect(answer).toBe('no answer');
      expect(await fingerprint()).toEqual(before);
      victim = fresh;
    }
    // Nothing is left locked: an import through the fresh API goes through, all of it.
    const res = await api.call('POST', '/accounts/import', {
      origin: victim.origin,
      raw: 'login,cohorts,leaked,password_changed_at\nimport-after@example.test,general,false,\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect([res.status, res.body.inserted]).toEqual([200, 1]);
    expect((await fingerprint()).accounts).toBe(before.accounts + 1);
    verbose(`killed imports (${Date.now() - t0} ms):\n  ${outcomes.join('\n  ')}`);
  }, 60_000);
});
