import type { Outcome } from './outcome';
import { withRetries, type RetryPolicy } from './retry';

type O = Outcome<string>;
const ok: O = { kind: 'ok', status: 200, value: 'done', latencyMs: 1, replayed: false };
const limited = (retryAfterMs: number): O => ({ kind: 'rate_limited', status: 429, retryAfterMs, latencyMs: 1 });
const unavailable: O = { kind: 'unavailable', status: 503, retryAfterMs: 2_000, latencyMs: 1 };
const inProgress: O = { kind: 'in_progress', status: 409, retryAfterMs: 500, latencyMs: 1 };
const internal: O = { kind: 'retryable', status: 500, code: 'internal', outcomeUnknown: true, latencyMs: 1 };
const unauthorized: O = { kind: 'permanent', status: 401, code: 'unauthorized', latencyMs: 1 };

/** A scripted server: answers in order; records the idempotency key each attempt carried. */
function scripted(answers: O[]) {
  const keys: string[] = [];
  const send = async (key: string): Promise<O> => {
    keys.push(key);
    return answers[Math.min(keys.length - 1, answers.length - 1)];
  };
  return { keys, send };
}

function fakeSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe('withRetries', () => {
  it('waits at least Retry-After (+0–20 % jitter) on 429, and 429s do not consume attempts', async () => {
    const server = scripted([limited(1_000), limited(1_000), limited(3_000), limited(1_000), ok]);
    const { waits, sleep } = fakeSleep();
    let r = 0;
    const random = () => [0, 0.5, 1, 0.999][r++ % 4];
    const key = 'wave-1/batch-1';
    const out = await withRetries(() => server.send(key), { maxAttempts: 1, sleep, random });
    expect(out).toBe(ok);
    expect(waits).toEqual([1_000, 1_100, 3_600, 1_200]);
    expect(server.keys).toEqual([key, key, key, key, key]);
  });

  it('Retry-After wins over its own backoff (a 503 asking 2 s is never retried sooner)', async () => {
    const server = scripted([internal, unavailable, ok]);
    const { waits, sleep } = fakeSleep();
    await withRetries(() => server.send('k'), { sleep, random: () => 0, baseBackoffMs: 50 });
    expect(waits[0]).toBe(0);
    expect(waits[1]).toBeGreaterThanOrEqual(2_000);
  });

  it('bounds the time spent on rate limits and returns the last 429', async () => {
    const server = scripted([limited(1_000)]);
    const { waits, sleep } = fakeSleep();
    const out = await withRetries(() => server.send('k'), { sleep, random: () => 1, maxRateLimitWaitMs: 5_000 });
    expect(out.kind).toBe('rate_limited');
    expect(waits).toEqual([1_200, 1_200, 1_200, 1_200]);
    expect(server.keys).toHaveLength(5);
  });

  it('a Retry-After of 0 cannot spin it: waits take the floor and spend the budget', async () => {
    const server = scripted([limited(0)]);
    const { waits, sleep } = fakeSleep();
    await withRetries(() => server.send('k'), { sleep, random: () => 0, maxRateLimitWaitMs: 1_000 });
    expect(waits).toHaveLength(10);
    expect(waits.every((w) => w === 100)).toBe(true);
  });

  it('409 in progress waits like a 429 and does not consume attempts', async () => {
    const server = scripted([inProgress, inProgress, internal, ok]);
    const { waits, sleep } = fakeSleep();
    const out = await withRetries(() => server.send('k'), { sleep, random: () => 0, maxAttempts: 2 });
    expect(out).toBe(ok);
    expect(waits.slice(0, 2)).toEqual([500, 500]);
  });

  it('retryable: exponential backoff with full jitter, capped, at most maxAttempts calls', async () => {
    const server = scripted([internal]);
    const { waits, sleep } = fakeSleep();
    const policy: RetryPolicy = { sleep, random: () => 1, maxAttempts: 6, baseBackoffMs: 100, maxBackoffMs: 1_000 };
    const out = await withRetries(() => server.send('k'), policy);
    expect(out).toBe(internal);
    expect(server.keys).toHaveLength(6);
    expect(waits).toEqual([100, 200, 400, 800, 1_000]);
  });

  it('full jitter: the wait is uniform below the ceiling', async () => {
    const server = scripted([internal, internal, ok]);
    const { waits, sleep } = fakeSleep();
    await withRetries(() => server.send('k'), { sleep, random: () => 0.25, baseBackoffMs: 400 });
    expect(waits).toEqual([100, 200]);
  });

  it('returns a permanent outcome at once: 401 is never retried', async () => {
    const server = scripted([unauthorized, ok]);
    const { waits, sleep } = fakeSleep();
    expect(await withRetries(() => server.send('k'), { sleep })).toBe(unauthorized);
    expect(server.keys).toHaveLength(1);
    expect(waits).toEqual([]);
  });

  it('does not retry a call the caller aborted, and stops when its signal fires', async () => {
    const aborted: O = { kind: 'retryable', code: 'aborted', outcomeUnknown: false, latencyMs: 0 };
    const first = scripted([aborted, ok]);
    expect(await withRetries(() => first.send('k'), { sleep: fakeSleep().sleep })).toBe(aborted);
    expect(first.keys).toHaveLength(1);

    const controller = new AbortController();
    const second = scripted([limited(1_000), ok]);
    const sleep = async () => controller.abort();
    const out = await withRetries(() => second.send('k'), { sleep, signal: controller.signal });
    expect(out.kind).toBe('rate_limited');
    expect(second.keys).toHaveLength(1);
  });

  it('reports every wait to onWait with the running counts', async () => {
    const server = scripted([limited(1_000), internal, ok]);
    const seen: [string, number, number, number][] = [];
    await withRetries(() => server.send('k'), {
      sleep: fakeSleep().sleep,
      random: () => 0,
      onWait: (w) => seen.push([w.outcome.kind, w.calls, w.attemptsUsed, w.rateLimitWaitedMs]),
    });
    expect(seen).toEqual([
      ['rate_limited', 1, 0, 0],
      ['retryable', 2, 1, 1_000],
    ]);
  });
});
