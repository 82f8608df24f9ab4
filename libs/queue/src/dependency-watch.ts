import type Redis from 'ioredis';

export type DependencyName = 'postgres' | 'redis';

/** One outage line: JSON-serialisable, without stack traces (an outage is an operator's fact, not a bug). */
export interface DependencyEvent {
  level: 'error' | 'warn';
  msg: string;
  dependency: DependencyName;
  state: 'unreachable' | 'still_unreachable' | 'recovered';
  /** When the outage began (ISO). */
  since: string;
  downForMs?: number;
  /** The client's error, one line: `ECONNREFUSED 127.0.0.1:6390`. */
  error?: string;
}

export interface DependencyWatchOptions {
  /** While the dependency stays down, a reminder at most this often (default 30 s). */
  remindEveryMs?: number;
  /** The clock (tests pass a fake one). */
  now?: () => number;
}

/** Network failures: the dependency is unreachable, which the watch reports, rather than a bug to log with a stack. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  '57P01', // PostgreSQL: admin_shutdown (the server is stopping)
  '57P03', // PostgreSQL: cannot_connect_now (the server is starting)
]);
// `Command timed out`: ioredis's commandTimeout (a fail-fast producer's Redis kept the connection but did not answer).
const NETWORK_MESSAGES =
  /Connection is closed|Connection terminated|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable|Reached the max retries per request limit|timeout exceeded when trying to connect|Command timed out/;

export function isConnectionError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return NETWORK_MESSAGES.test(err.message);
}

/** `ECONNREFUSED 127.0.0.1:6390`, or the message: one line, never a stack. */
export function describeConnectionError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: string; address?: string; port?: number; errors?: unknown[] };
  // Node's happy-eyeballs connect (a host name with several addresses) fails with an AggregateError, message ''.
  const first = (e.errors?.[0] ?? e) as typeof e;
  const where = first.address ? ` ${first.address}${first.port ? `:${first.port}` : ''}` : '';
  if (e.code) return `${e.code}${where}`;
  return (e.message || String(e.code ?? e.name)).split('\n')[0];
}

/**
 * The state of one dependency (PostgreSQL, Redis) as a process's clients see it, and the only place that logs its
 * outages: one `unreachable` line when the first client fails, at most one `still_unreachable` reminder per
 * `remindEveryMs` while it stays down, one `recovered` line with the outage's length when every client that failed
 * is back. Clients report through `failed`/`ok` under a source name (each ioredis connection, a probe), so a second
 * client failing during the same outage adds no line, and the outage ends only when all of them are back.
 */
export class DependencyWatch {
  private readonly failing = new Map<string, string>();
  private since: number | null = null;
  private lastLineAt = 0;
  private readonly remindEveryMs: number;
  private readonly now: () => number;

  constructor(
    readonly dependency: DependencyName,
    private readonly log: (event: DependencyEvent) => void,
    options: DependencyWatchOptions = {},
  ) {
    this.remindEveryMs = options.remindEveryMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  get down(): boolean {
    return this.since !== null;
  }

  failed(source: string, err: unknown): void {
    const error = describeConnectionError(err);
    this.failing.set(source, error);
    const now = this.now();
    if (this.since === null) {
      this.since = now;
      this.lastLineAt = now;
      this.log({ ...this.base('error', 'unreachable', now), msg: `${this.dependency} unreachable`, error });
    } else if (now - this.lastLineAt >= this.remindEveryMs) {
      this.lastLineAt = now;
      this.log({ ...this.base('warn', 'still_unreachable', now), msg: `${this.dependency} still unreachable`, error });
    }
  }

  ok(source: string): void {
    this.failing.delete(source);
    if (this.since === null || this.failing.size > 0) return;
    // At warn, as the outage was: a log filtered to warnings must not show an outage that never ends.
    const event = { ...this.base('warn', 'recovered', this.now()), msg: `${this.dependency} recovered` };
    this.since = null;
    this.log(event);
  }

  private base(level: DependencyEvent['level'], state: DependencyEvent['state'], now: number) {
    const since = this.since ?? now;
    return {
      level,
      dependency: this.dependency,
      state,
      since: new Date(since).toISOString(),
      ...(state === 'unreachable' ? {} : { downForMs: now - since }),
    };
  }
}

/**
 * Reports an ioredis client's outages to the watch. The 'error' listener is also what keeps ioredis from printing
 * `[ioredis] Unhandled error event` with a stack on every reconnect attempt. ioredis reconnects by itself (its
 * default retryStrategy retries forever, at most 2 s apart) and emits 'ready' once it is usable again.
 */
export function watchRedisClient(watch: DependencyWatch, client: Redis, source: string): Redis {
  client.on('error', (err: unknown) => watch.failed(source, err));
  client.on('ready', () => watch.ok(source));
  return client;
}

/**
 * The 'error' listener for BullMQ objects (Queue, Worker): they re-emit their connections' errors, and one without a
 * listener prints each with its stack. Connection errors are the watch's business (the shared client reports the
 * same outage); anything else goes to `other`.
 */
export function bullmqErrorHandler(other: (err: Error) => void): (err: Error) => void {
  return (err) => {
    if (!isConnectionError(err)) other(err);
  };
}

/**
 * A dependency without connection events of its own (the pg pool opens connections on demand, so it only fails a
 * query): `probe` runs every `intervalMs`, one at a time, and reports to the watch under `source`. `stop` waits for a
 * probe in flight, so nothing queries a pool being closed.
 */
export function probeEvery(
  watch: DependencyWatch,
  source: string,
  probe: () => Promise<unknown>,
  intervalMs: number,
): { stop(): Promise<void> } {
  let inFlight: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = probe()
      .then(
        () => watch.ok(source),
        (err: unknown) => watch.failed(source, err),
      )
      .finally(() => (inFlight = undefined));
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await inFlight;
    },
  };
}

/**
 * A dependency the process cannot start without (PostgreSQL: the runtime role is checked at boot) did not answer. Its
 * message is the one line the process prints before it exits, naming the dependency and the setting to check; the
 * client's error stays as the cause.
 */
export class DependencyUnreachableError extends Error {
  /** An operator's fix, said in one line (startupFailureLine). */
  readonly operatorFix = true;

  constructor(
    readonly dependency: DependencyName,
    setting: string,
    cause: unknown,
  ) {
    super(`${dependency} unreachable (${describeConnectionError(cause)}): is it running, and is ${setting} right?`, {
      cause,
    });
    this.name = 'DependencyUnreachableError';
  }
}

/** Runs `open`; a connection failure becomes a DependencyUnreachableError, anything else passes through. */
export async function openOrSayUnreachable<T>(
  dependency: DependencyName,
  setting: string,
  open: () => Promise<T>,
): Promise<T> {
  try {
    return await open();
  } catch (err) {
    throw isConnectionError(err) ? new DependencyUnreachableError(dependency, setting, err) : err;
  }
}
