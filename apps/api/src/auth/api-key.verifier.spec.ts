import { hashApiKey, type ApiKeyService } from '@app/core';
import type { ApiKeyEntity } from '@app/db';
import type { ApiSettings } from '@app/config';
import { ApiKeyVerifier } from './api-key.verifier';

describe('ApiKeyVerifier', () => {
  const secret = 'rk_viewer_abc123_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
  const unknown = 'rk_ops_ffffff_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
  let now = 1_000_000;
  let revoked = false;
  let lookups = 0;
  let gate: Promise<void> = Promise.resolve();
  const key = { id: 'k1', name: 'wall', role: 'viewer' } as ApiKeyEntity;
  const keys = {
    verify: async (s: string) => {
      lookups++;
      await gate;
      return revoked || s !== secret ? null : key;
    },
    // The background re-verification of every cached key (one look-up for all of them).
    verifyHashes: async (hashes: string[]) => {
      lookups++;
      await gate;
      return new Map(revoked ? [] : hashes.filter((h) => h === hashApiKey(secret)).map((h) => [h, key]));
    },
  } as unknown as ApiKeyService;
  const settings = { API_KEY_CACHE_MS: 2000, API_KEY_NEGATIVE_CACHE_MS: 5000 } as ApiSettings;
  let verifier: ApiKeyVerifier;
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    verifier = new ApiKeyVerifier(keys, settings);
    lookups = 0;
    revoked = false;
    gate = Promise.resolve();
  });
  afterEach(() => jest.restoreAllMocks());

  it.each([
    'short',
    `${secret}\n`,
    `${secret}x`,
    'rk_root_abc123_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG',
    'rk_viewer_ABC123_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG',
    'x'.repeat(60),
  ])('refuses %j, which create() never makes, without a look-up', async (malformed) => {
    expect(await verifier.verify(malformed)).toBeNull();
    expect(verifier.isFree(malformed)).toBe(false);
    expect(lookups).toBe(0);
  });

  it('remembers a key, re-verifies it in the background, and drops it within the cache time once revoked', async () => {
    expect(await verifier.verify(secret)).toEqual({ keyId: 'k1', name: 'wall', role: 'viewer', actor: 'viewer:wall' });
    expect(await verifier.verify(secret)).not.toBeNull();
    expect(lookups).toBe(1);
    now += 1200; // past half the cache time: served, and re-verified behind the scenes
    revoked = true;
    expect(await verifier.verify(secret)).not.toBeNull();
    await flush();
    expect(lookups).toBe(2);
    expect(await verifier.verify(secret)).toBeNull(); // the background check saw the revocation
    now += 5000;
    expect(await verifier.verify(secret)).toBeNull();
  });

  it('refuses an unknown key from memory for the negative cache time, then looks again', async () => {
    for (let i = 0; i < 100; i++) expect(await verifier.verify(unknown)).toBeNull();
    expect(lookups).toBe(1);
    now += 4999;
    expect(await verifier.verify(unknown)).toBeNull();
    expect(lookups).toBe(1);
    now += 1;
    expect(await verifier.verify(unknown)).toBeNull();
    expect(lookups).toBe(2);
  });

  it('shares one look-up among concurrent requests for one secret (joining it is free)', async () => {
    let open: () => void = () => undefined;
    gate = new Promise((resolve) => (open = resolve));
    expect(verifier.isFree(unknown)).toBe(false);
    const first = verifier.verify(unknown);
    expect(verifier.isFree(unknown)).toBe(true); // under way: a request joining it costs no query
    const answers = Promise.all([first, ...Array.from({ length: 49 }, () => verifier.verify(unknown))]);
    open();
    expect(await answers).toEqual(Array(50).fill(null));
    expect(lookups).toBe(1);
  });

  it('counts a key it verified as free until it sees it refused (those requests are not guesses)', async () => {
    expect(verifier.isFree(secret)).toBe(false);
    await verifier.verify(secret);
    expect(verifier.isFree(secret)).toBe(true);
    now += 60_000; // long past the cache time: still not a guess, but verified again before use
    expect(verifier.isFree(secret)).toBe(true);
    revoked = true;
    expect(await verifier.verify(secret)).toBeNull();
    expect(verifier.isFree(secret)).toBe(false);
    await verifier.verify(unknown);
    expect(verifier.isFree(unknown)).toBe(false); // refused from memory, but charged: it is a failed attempt
  });

  it('a revoked key that was refused comes back when it is valid again only after the negative cache time', async () => {
    revoked = true;
    expect(await verifier.verify(secret)).toBeNull();
    revoked = false; // cannot happen with create() (new secrets are random), but the bound is the cache time
    expect(await verifier.verify(secret)).toBeNull();
    now += 5000;
    expect(await verifier.verify(secret)).not.toBeNull();
  });
  it('answers from memory only (cached): a key verified within the cache time, re-verified past half of it', async () => {
    expect(verifier.cached(secret)).toBeUndefined(); // never verified: no look-up from here, the caller verifies
    expect(lookups).toBe(0);
    await verifier.verify(secret);
    expect(verifier.cached(secret)).toMatchObject({ role: 'viewer', actor: 'viewer:wall' });
    now += 1200;
    revoked = true;
    expect(verifier.cached(secret)).toMatchObject({ role: 'viewer' }); // still served, checked again behind the scenes
    await flush();
    expect(lookups).toBe(2);
    expect(verifier.cached(secret)).toBeUndefined(); // the background check saw the revocation
    revoked = false;
    await verifier.verify(unknown);
    expect(verifier.cached(unknown)).toBeUndefined();
    now += 5000;
    await verifier.verify(secret);
    now += 2000; // the whole cache time: not from memory any more
    expect(verifier.cached(secret)).toBeUndefined();
  });
});
