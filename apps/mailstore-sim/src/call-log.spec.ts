import { CallLog } from './call-log';

const loginAt = (i: number): string => `user${i + 1}@example.test`;

function logCalls(log: CallLog, n: number): void {
  for (let i = 0; i < n; i++) log.begin('GET', 'get', `/v1/x/${i}`, null, null).finish(200, 'ok');
}

describe('CallLog', () => {
  it('numbers calls from 1 and lists those after `since`, oldest first, up to `limit`', () => {
    const log = new CallLog(100);
    logCalls(log, 5);
    expect(log.lastSeq).toBe(5);
    expect(log.list(0, 100, loginAt).map((c) => c.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(log.list(3, 100, loginAt).map((c) => c.seq)).toEqual([4, 5]);
    expect(log.list(1, 2, loginAt).map((c) => c.seq)).toEqual([2, 3]);
  });

  it('keeps only the last `capacity` calls', () => {
    const log = new CallLog(3);
    logCalls(log, 7);
    expect(log.list(0, 100, loginAt).map((c) => c.path)).toEqual(['/v1/x/4', '/v1/x/5', '/v1/x/6']);
  });

  it('keeps numbering after clear and lists only newer calls', () => {
    const log = new CallLog(4);
    logCalls(log, 6);
    log.clear();
    expect(log.list(0, 100, loginAt)).toEqual([]);
    logCalls(log, 2);
    expect(log.list(0, 100, loginAt).map((c) => c.seq)).toEqual([7, 8]);
  });

  it('shows a running call as pending, then its end', () => {
    const log = new CallLog(10);
    const call = log.begin('PATCH', 'patch', '/v1/accounts/a/access', 'key-1', 'req-1');
    const [pending] = log.list(0, 10, loginAt);
    expect(pending).toMatchObject({
      status: 0,
      outcome: 'pending',
      endedAt: null,
      idempotencyKey: 'key-1',
      requestId: 'req-1',
    });
    call.finish(200, 'ok');
    call.finish(0, 'hang'); // the first end wins
    const [done] = log.list(0, 10, loginAt);
    expect(done).toMatchObject({ status: 200, outcome: 'ok' });
    expect(done.endedAt).toBeGreaterThanOrEqual(done.startedAt);
  });

  it('turns compact account ids into logins, unknown ones included', () => {
    const log = new CallLog(10);
    const call = log.begin('POST', 'batch', '/v1/access/batch', 'k', null);
    call.accounts = { ids: Int32Array.of(0, -1, 4), extras: ['stranger@example.test'] };
    call.applied = Int32Array.of(4);
    call.finish(200, 'ok');
    const [entry] = log.list(0, 10, loginAt);
    expect(entry.accounts).toEqual(['user1@example.test', 'stranger@example.test', 'user5@example.test']);
    expect(entry.applied).toEqual(['user5@example.test']);
  });

  it('refuses a capacity below 1', () => {
    expect(() => new CallLog(0)).toThrow(/callLogCapacity/);
  });
});
