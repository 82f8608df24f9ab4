import { batchSizeLimit, checkCapabilities, DEFAULT_CAPABILITIES, propagationDelayMs } from './capabilities';

const FULL = {
  protocols: ['imap', 'pop3'],
  maxBatchItems: 500,
  revokeSessions: true,
  conditionalUpdates: true,
  idempotencyKeyTtlSeconds: 86400,
  propagation: { mode: 'immediate', maxSeconds: 0 },
  rateLimits: { requestsPerSecond: 20, requestBurst: 40, accountUpdatesPerSecond: 200, accountUpdateBurst: 300 },
};

describe('checkCapabilities', () => {
  it('accepts the contract example as is', () => {
    expect(checkCapabilities(FULL)).toEqual({ ok: true, value: FULL });
  });

  it('fills missing optional fields with the safe defaults', () => {
    expect(checkCapabilities({})).toEqual({ ok: true, value: DEFAULT_CAPABILITIES });
    const partial = checkCapabilities({ rateLimits: { requestsPerSecond: 5 }, propagation: { mode: 'immediate' } });
    expect(partial).toMatchObject({
      ok: true,
      value: {
        rateLimits: { ...DEFAULT_CAPABILITIES.rateLimits, requestsPerSecond: 5 },
        propagation: { mode: 'immediate', maxSeconds: 0 },
      },
    });
  });

  it('ignores unknown protocols but keeps known ones', () => {
    expect(checkCapabilities({ protocols: ['imap', 'jmap'] })).toMatchObject({
      ok: true,
      value: { protocols: ['imap'] },
    });
  });

  it.each([
    ['not an object', []],
    ['string rate', { rateLimits: { requestsPerSecond: '20' } }],
    ['zero rate', { rateLimits: { accountUpdatesPerSecond: 0 } }],
    ['zero batch', { maxBatchItems: 0 }],
    ['fractional batch', { maxBatchItems: 2.5 }],
    ['unknown propagation', { propagation: { mode: 'sometimes' } }],
    ['negative propagation', { propagation: { mode: 'eventual', maxSeconds: -1 } }],
    ['no known protocol', { protocols: ['jmap'] }],
    ['string boolean', { revokeSessions: 'yes' }],
  ])('rejects %s', (_label, body) => {
    expect(checkCapabilities(body).ok).toBe(false);
  });
});

describe('batchSizeLimit and propagationDelayMs', () => {
  it('sizes batches by min(maxBatchItems, accountUpdateBurst)', () => {
    expect(batchSizeLimit(FULL as never)).toBe(300);
    expect(batchSizeLimit({ ...DEFAULT_CAPABILITIES, maxBatchItems: 50 })).toBe(50);
  });

  it('is 0 for immediate propagation and maxSeconds otherwise', () => {
    expect(propagationDelayMs(FULL as never)).toBe(0);
    expect(propagationDelayMs({ ...DEFAULT_CAPABILITIES, propagation: { mode: 'eventual', maxSeconds: 300 } })).toBe(
      300_000,
    );
  });
});
