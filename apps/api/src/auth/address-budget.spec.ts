import type { ApiSettings } from '@app/config';
import { AddressBudget } from './address-budget';

describe('AddressBudget', () => {
  const budget = (perMinute: number) => new AddressBudget({ API_PREAUTH_LIMIT_PER_MINUTE: perMinute } as ApiSettings);

  it('lets an address spend its burst, then refuses with the wait until the next token', () => {
    const b = budget(60);
    for (let i = 0; i < 60; i++) expect(b.take('192.0.2.1', 0)).toEqual({ ok: true });
    expect(b.take('192.0.2.1', 0)).toEqual({ ok: false, retryAfterSeconds: 1 });
    expect(b.take('192.0.2.1', 999)).toMatchObject({ ok: false });
    expect(b.take('192.0.2.1', 1000)).toEqual({ ok: true }); // one a second comes back
    expect(b.take('192.0.2.2', 1000)).toEqual({ ok: true }); // another address has its own
  });

  it('says how long to wait when tokens come back slowly', () => {
    const b = budget(2); // one every 30 s
    b.take('a', 0);
    b.take('a', 0);
    expect(b.take('a', 0)).toEqual({ ok: false, retryAfterSeconds: 30 });
    expect(b.take('a', 20_000)).toEqual({ ok: false, retryAfterSeconds: 10 });
  });

  it('takes a token back for a look-up that found a valid key, never above the burst', () => {
    const b = budget(3);
    for (let i = 0; i < 3; i++) b.take('a', 0);
    b.giveBack('a');
    expect(b.take('a', 0)).toEqual({ ok: true });
    expect(b.take('a', 0)).toMatchObject({ ok: false });
    b.giveBack('b'); // unknown address: nothing to give back
    for (let i = 0; i < 5; i++) b.giveBack('a');
    for (let i = 0; i < 3; i++) expect(b.take('a', 0)).toEqual({ ok: true });
    expect(b.take('a', 0)).toMatchObject({ ok: false });
  });

  it('bounds its memory: past 50,000 addresses the least recently seen is forgotten', () => {
    const b = budget(1);
    b.take('first', 0);
    expect(b.take('first', 0)).toMatchObject({ ok: false });
    for (let i = 0; i < 50_000; i++) b.take(`10.${i}`, 0);
    expect(b.take('first', 0)).toEqual({ ok: true }); // forgotten, so a full budget again
    expect(b.take('10.49999', 0)).toMatchObject({ ok: false }); // recently seen: still remembered
  });
});
