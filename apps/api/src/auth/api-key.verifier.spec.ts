import type { ApiKeyService } from '@app/core';
import type { ApiKeyEntity } from '@app/db';
import type { ApiSettings } from '../api-settings';
import { ApiKeyVerifier } from './api-key.verifier';

describe('ApiKeyVerifier', () => {
  const secret = 'rk_viewer_abc123_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG';
  let now = 1_000_000;
  let revoked = false;
  let lookups = 0;
  const keys = {
    verify: async () => {
      lookups++;
      return revoked ? null : ({ id: 'k1', name: 'wall', role: 'viewer' } as ApiKeyEntity);
    },
  } as unknown as ApiKeyService;
  const verifier = new ApiKeyVerifier(keys, { API_KEY_CACHE_MS: 2000 } as ApiSettings);
  const flush = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => jest.spyOn(Date, 'now').mockImplementation(() => now));
  afterEach(() => jest.restoreAllMocks());

  it('refuses malformed secrets without a lookup', async () => {
    expect(await verifier.verify('short')).toBeNull();
    expect(await verifier.verify(`${secret}\n`)).toBeNull();
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
});
