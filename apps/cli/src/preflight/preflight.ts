import { isFinished, isNotStarted } from '@app/domain';

/** What the checks need of an API client (the CLI's and the demo's ApiClient): GET, answered JSON or thrown. Its own
 * folder: both `reopen preflight` and the demo run these checks, and demo ↔ reopen would be a folder cycle. */
interface Reader {
  get<T>(path: string): Promise<T>;
}

/** One line of `reopen preflight`: ok, warn (look at it), fail (no-go). */
export interface Check {
  level: 'ok' | 'warn' | 'fail';
  name: string;
  detail: string;
}

interface DependencyState {
  status: 'up' | 'down';
  message?: string;
}

/** The parts of the API's answers the checks read (docs/openapi.json has them all). */
export interface PreflightWave {
  id: string;
  name: string;
  state: string;
  startAt: string | null;
  /** The start as planned: wall-clock time in its zone (what the change ticket says). */
  startLocal: string | null;
  timeZone: string | null;
  gates: unknown[];
  windows: unknown;
}

export interface PreflightInput {
  /** GET /health/dependencies. */
  dependencies: Record<string, DependencyState>;
  /** GET /workers; `unreadable`: the API could not read the roster (a 5xx: Redis, where the workers report, is down). */
  workers:
    | {
        alive: number;
        api: { version: string; commit: string };
        workers: { id: string; alive: boolean; version: string; commit: string }[];
      }
    | { unreadable: string };
  /**
   * The waves to check, each with its preview's eligible count, its pending approval requests' commands and its gates as
   * they would decide now (GET /waves/{id}/gate-check; none for a finished wave).
   */
  waves: {
    wave: PreflightWave;
    eligible: number;
    pendingApprovals: { id: string; command: string }[];
    gateCheck?: { gate: string; status: string; reason: string }[];
  }[];
  /** GET /subscriptions: each one's given-up deliveries. */
  subscriptions: { name: string; failed: number }[];
}

const DEPENDENCIES: [string, string][] = [
  ['database', 'PostgreSQL'],
  ['redis', 'Redis'],
  ['mailstore', 'the mailstore (the configured driver)'],
];

/**
 * The go/no-go of the night before a wave, from what the API says now: pure, so every rule is tested without a server.
 * A fail is something that stops a wave from running as planned (a dependency down, no worker, a start already
 * missed); a warning, something an operator should have decided on purpose (a wave with no gate or no eligible
 * member, an approval still pending, nobody notified, workers of another build).
 */
export function judge(input: PreflightInput, nowMs: number): Check[] {
  const checks: Check[] = [];
  for (const [key, label] of DEPENDENCIES) {
    const d = input.dependencies[key];
    checks.push(
      d?.status === 'up'
        ? { level: 'ok', name: key, detail: `${label} answers` }
        : { level: 'fail', name: key, detail: `${label} is down${d?.message ? `: ${d.message}` : ''}` },
    );
  }
  checks.push(...workerChecks(input.workers));
  if (!input.waves.length) {
    checks.push({ level: 'warn', name: 'waves', detail: 'no wave is scheduled in the window (and none was named)' });
  }
  for (const w of input.waves) checks.push(...waveChecks(w, nowMs));
  checks.push(notificationCheck(input.subscriptions));
  return checks;
}

function workerChecks(w: PreflightInput['workers']): Check[] {
  if ('unreadable' in w) {
    return [{ level: 'fail', name: 'workers', detail: `cannot tell whether any worker runs: ${w.unreadable}` }];
  }
  if (w.alive === 0) {
    const last = w.workers.length ? ` (last seen: ${w.workers.map((x) => x.id).join(', ')})` : '';
    return [
      {
        level: 'fail',
        name: 'workers',
        detail: `no worker is running: no wave moves, no scheduled start fires${last}`,
      },
    ];
  }
  const alive = w.workers.filter((x) => x.alive);
  const checks: Check[] = [{ level: 'ok', name: 'workers', detail: `${w.alive} alive` }];
  const other = alive.filter((x) => x.version !== w.api.version || x.commit !== w.api.commit);
  if (other.length) {
    checks.push({
      level: 'warn',
      name: 'workers',
      detail: `${other.map((x) => `${x.id} runs ${x.version} (${x.commit})`).join(', ')}; the API runs ${w.api.version} (${w.api.commit})`,
    });
  }
  return checks;
}

function waveChecks(w: PreflightInput['waves'][number], nowMs: number): Check[] {
  const { wave } = w;
  const name = `wave "${wave.name}" (${wave.id})`;
  const checks: Check[] = [];
  const startMs = wave.startAt ? Date.parse(wave.startAt) : null;
  if (wave.state !== 'scheduled') {
    checks.push({
      level: wave.state === 'draft' ? 'warn' : 'ok',
      name,
      detail: wave.state === 'draft' ? 'a draft: it starts only when scheduled or started' : `is ${wave.state}`,
    });
  } else if (startMs === null) {
    checks.push({ level: 'fail', name, detail: 'scheduled without a start time' });
  } else if (startMs < nowMs) {
    checks.push({
      level: 'fail',
      name,
      detail: `still scheduled ${minutes(nowMs - startMs)} after its start (${planned(wave)}): is a worker running?`,
    });
  } else {
    checks.push({ level: 'ok', name, detail: `starts ${planned(wave)}, in ${minutes(startMs - nowMs)}` });
  }
  // Once it ran, its members are fixed and its finished ones no longer eligible: what it would open is a plan's question.
  if (isNotStarted(wave.state)) {
    if (w.eligible === 0) checks.push({ level: 'warn', name, detail: 'no eligible member: it would open nothing' });
    else checks.push({ level: 'ok', name, detail: `${w.eligible} eligible` });
  }
  if (isFinished(wave.state)) return checks;
  if (!wave.gates.length) {
    checks.push({ level: 'warn', name, detail: 'no gate: nothing halts it by itself (docs/gates.md)' });
  }
  for (const g of w.gateCheck ?? []) {
    if (g.status === 'inconclusive') {
      checks.push({
        level: 'warn',
        name,
        detail: `gate ${g.gate} is inconclusive now (a running wave pauses on it): ${g.reason}`,
      });
    } else if (g.status === 'breached') {
      checks.push({ level: 'warn', name, detail: `gate ${g.gate} is breached now: ${g.reason}` });
    }
  }
  for (const a of w.pendingApprovals) {
    checks.push({
      level: 'warn',
      name,
      detail: `approval ${a.id} for ${a.command} is pending: reopen approvals show ${a.id}`,
    });
  }
  return checks;
}

function notificationCheck(subscriptions: PreflightInput['subscriptions']): Check {
  if (!subscriptions.length) {
    return {
      level: 'warn',
      name: 'notifications',
      detail: 'no subscription: nobody is told when a wave halts (docs/notifications.md)',
    };
  }
  const failing = subscriptions.filter((s) => s.failed > 0);
  if (failing.length) {
    return {
      level: 'warn',
      name: 'notifications',
      detail: `given-up deliveries: ${failing.map((s) => `${s.name} (${s.failed})`).join(', ')}: reopen subscriptions redeliver ID`,
    };
  }
  return { level: 'ok', name: 'notifications', detail: `${subscriptions.length} subscription(s)` };
}

/** `2026-05-09T08:00 Europe/Paris (2026-05-09T06:00:00.000Z)`: the plan's wall clock, then the instant it means. */
function planned(wave: PreflightWave): string {
  return wave.startLocal && wave.timeZone
    ? `${wave.startLocal} ${wave.timeZone} (${wave.startAt})`
    : String(wave.startAt);
}

function minutes(ms: number): string {
  const m = Math.round(ms / 60_000);
  return m < 120 ? `${m} min` : `${Math.round(m / 6) / 10} h`;
}

/** The waves a preflight looks at: every scheduled one starting before `within` hours from now, and the named ones. */
export async function gatherPreflight(
  client: Reader,
  opts: { withinHours: number; waves: readonly string[] },
  nowMs: number,
): Promise<PreflightInput> {
  const [dependencies, workers, scheduled, subscriptions] = await Promise.all([
    client.get<{ dependencies: Record<string, DependencyState> }>('/health/dependencies'),
    // With Redis down the roster cannot be read (503), while the dependencies' report still says which part is down:
    // a FAIL line and NO-GO (exit 7), not the whole preflight failing as an unreachable API (exit 3).
    client.get<PreflightInput['workers']>('/workers').catch((e: unknown) => {
      const failed = e as { status?: unknown; problem?: { detail?: unknown } | null; message?: string };
      if (typeof failed.status !== 'number' || failed.status < 500) throw e;
      const detail = typeof failed.problem?.detail === 'string' ? failed.problem.detail : `HTTP ${failed.status}`;
      return { unreadable: `GET /workers answered ${failed.status}: ${detail}` };
    }),
    client.get<{ items: PreflightWave[] }>('/waves?state=scheduled&limit=200'),
    client.get<{ items: { name: string; deliveries: { failed: number } }[] }>('/subscriptions'),
  ]);
  const horizon = nowMs + opts.withinHours * 3_600_000;
  const due = scheduled.items.filter((w) => !w.startAt || Date.parse(w.startAt) <= horizon);
  const named = await Promise.all(
    opts.waves.filter((id) => !due.some((w) => w.id === id)).map((id) => client.get<PreflightWave>(waveUrl(id))),
  );
  const waves = await Promise.all(
    [...due, ...named].map(async (wave) => {
      const [preview, approvals, gateCheck] = await Promise.all([
        client.get<{ eligible: number }>(`${waveUrl(wave.id)}/preview`),
        client.get<{ id: string; command: string }[]>(`/approvals?state=pending&waveId=${encodeURIComponent(wave.id)}`),
        isFinished(wave.state)
          ? Promise.resolve(undefined)
          : client.get<{ gates: { gate: string; status: string; reason: string }[] }>(`${waveUrl(wave.id)}/gate-check`),
      ]);
      return { wave, eligible: preview.eligible, pendingApprovals: approvals, gateCheck: gateCheck?.gates };
    }),
  );
  return {
    dependencies: dependencies.dependencies,
    workers,
    waves,
    subscriptions: subscriptions.items.map((s) => ({ name: s.name, failed: s.deliveries.failed })),
  };
}

const waveUrl = (id: string) => `/waves/${encodeURIComponent(id)}`;

/** No-go: at least one check failed (exit 7). */
export function isNoGo(checks: readonly Check[]): boolean {
  return checks.some((c) => c.level === 'fail');
}

/** `ok    workers: 2 alive`, aligned; then the verdict. */
export function renderChecks(checks: readonly Check[]): string[] {
  const label = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' } as const;
  const fails = checks.filter((c) => c.level === 'fail').length; // isNoGo: fails > 0
  const warns = checks.filter((c) => c.level === 'warn').length;
  return [
    ...checks.map((c) => `${label[c.level]}  ${c.name}: ${c.detail}`),
    fails
      ? `NO-GO: ${fails} failed check(s), ${warns} warning(s)`
      : `GO${warns ? ` with ${warns} warning(s) to read` : ''}`,
  ];
}
