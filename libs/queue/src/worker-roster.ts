import type Redis from 'ioredis';

/** How often a worker reports, and how long without a report before it no longer counts as alive (3 reports lost). */
export const WORKER_REPORT_MS = 5_000;
export const WORKER_ALIVE_MS = 15_000;
/** A worker not heard from for this long (stopped, or dead) leaves the roster: the next read forgets it. */
export const WORKER_FORGET_MS = 60 * 60_000;

/** What a worker says about itself in each report. */
export interface WorkerIdentity {
  id: string;
  version: string;
  commit: string;
  hostname: string;
  pid: number;
  /** ISO 8601. */
  startedAt: string;
  /** MAILSTORE_DRIVER. */
  driver: string;
}

/** A worker as the roster knows it: its identity, when it last reported, whether it stopped on purpose. */
export interface WorkerSighting extends WorkerIdentity {
  /** It reported within WORKER_ALIVE_MS and did not say it was stopping. */
  alive: boolean;
  lastSeenAt: string;
  /** It said it was stopping (a graceful shutdown); absent for a worker that is running, or that died. */
  leftAt?: string;
}

/**
 * The alive rule, on Redis's clock (the reports and the read both take Redis's TIME, so clocks of the worker and API
 * hosts never matter): a worker is alive when it reported within WORKER_ALIVE_MS and has not said it was stopping.
 */
export function sightingOf(
  identity: WorkerIdentity & { leftAt?: string },
  lastSeenMs: number,
  nowMs: number,
): WorkerSighting {
  return {
    ...identity,
    alive: !identity.leftAt && nowMs - lastSeenMs <= WORKER_ALIVE_MS,
    lastSeenAt: new Date(lastSeenMs).toISOString(),
  };
}

/** How many workers the roster knows in each state: alive, stopped (said so), lost (stopped reporting). */
export function countWorkers(sightings: readonly WorkerSighting[]): Record<'alive' | 'stopped' | 'lost', number> {
  const counts = { alive: 0, stopped: 0, lost: 0 };
  for (const w of sightings) counts[w.alive ? 'alive' : w.leftAt ? 'stopped' : 'lost'] += 1;
  return counts;
}

// Redis's clock in ms, for both scripts.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: roster (zset id → last report), identities (hash id → JSON). ARGV: id, JSON. */
const REPORT = `${NOW}
redis.call('ZADD', KEYS[1], now, ARGV[1]) redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) return now`;

/** KEYS as REPORT; ARGV: forget after (ms). Forgets the old, then answers now, then id, last report, JSON per worker. */
const READ = `${NOW}
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
for _, id in ipairs(old) do redis.call('ZREM', KEYS[1], id) redis.call('HDEL', KEYS[2], id) end
local out = { now }
local rows = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #rows, 2 do
  table.insert(out, rows[i]) table.insert(out, rows[i + 1]) table.insert(out, redis.call('HGET', KEYS[2], rows[i]) or '{}')
end
return out`;

/**
 * Which worker processes run, from their own reports in Redis (issue: a scheduled wave whose start never fires because
 * no worker runs was noticed by nobody). Each worker reports every WORKER_REPORT_MS from its event loop, so a frozen or
 * killed one stops counting within WORKER_ALIVE_MS, and says when it stops on purpose. Written by hand rather than
 * BullMQ's Queue.getWorkers(): that lists connections (CLIENT LIST, refused by some managed Redis), counts a frozen
 * process as long as its socket stays open, and knows no version.
 *
 * Two keys under the BullMQ prefix, outside any queue's keys: `<prefix>:reopen:workers` (a sorted set: id → last
 * report, Redis time) and `<prefix>:reopen:workers:identity` (a hash: id → the JSON identity).
 */
export class WorkerRoster {
  private readonly keys: [string, string];

  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = [`${prefix}:reopen:workers`, `${prefix}:reopen:workers:identity`];
  }

  /** A worker's report: it is alive now. */
  async report(identity: WorkerIdentity): Promise<void> {
    await this.redis.eval(REPORT, 2, ...this.keys, identity.id, JSON.stringify(identity));
  }

  /** A worker stopping on purpose: it no longer counts, and the roster says when it left. */
  async leave(identity: WorkerIdentity): Promise<void> {
    await this.redis.eval(
      REPORT,
      2,
      ...this.keys,
      identity.id,
      JSON.stringify({ ...identity, leftAt: new Date().toISOString() }),
    );
  }

  /** Every worker heard from within WORKER_FORGET_MS, the alive first, then by last report (latest first). */
  async read(): Promise<WorkerSighting[]> {
    const out = (await this.redis.eval(READ, 2, ...this.keys, String(WORKER_FORGET_MS))) as (string | number)[];
    const now = Number(out[0]);
    const sightings: WorkerSighting[] = [];
    for (let i = 1; i + 2 < out.length; i += 3) {
      const identity = parseIdentity(String(out[i]), String(out[i + 2]));
      sightings.push(sightingOf(identity, Number(out[i + 1]), now));
    }
    return sightings.sort((a, b) => Number(b.alive) - Number(a.alive) || b.lastSeenAt.localeCompare(a.lastSeenAt));
  }
}

/** A stored identity, tolerant of a report written by another version (missing fields read as unknown). */
function parseIdentity(id: string, json: string): WorkerIdentity & { leftAt?: string } {
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed && typeof parsed === 'object') raw = parsed as Record<string, unknown>;
  } catch {
    // unreadable: the id alone
  }
  const text = (k: string) => {
    const v = raw[k];
    return typeof v === 'string' ? v : 'unknown';
  };
  return {
    id,
    version: text('version'),
    commit: text('commit'),
    hostname: text('hostname'),
    pid: typeof raw.pid === 'number' ? raw.pid : 0,
    startedAt: text('startedAt'),
    driver: text('driver'),
    ...(typeof raw.leftAt === 'string' ? { leftAt: raw.leftAt } : {}),
  };
}
