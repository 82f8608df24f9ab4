import { checkAccessState, checkBatchResult, checkPatchResult, checkRevokeResult, parseJson } from './response-guards';

const A = 'a@example.test';
const B = 'b@example.test';
const state = { account: A, protocols: { imap: true, pop3: false }, version: 7, updatedAt: '2026-05-09T06:00:00.000Z' };

describe('response guards', () => {
  it('parseJson never throws', () => {
    expect(parseJson('{"a":1}')).toEqual({ a: 1 });
    expect(parseJson('{"a":')).toBeUndefined();
    expect(parseJson('')).toBeUndefined();
  });

  it('accepts a well-formed AccessState and copies only known fields', () => {
    const checked = checkAccessState({ ...state, extra: 'x', protocols: { imap: true, pop3: false, smtp: 1 } }, A);
    expect(checked).toEqual({ ok: true, value: state });
  });

  it.each([
    ['another account', { ...state, account: B }],
    ['string version', { ...state, version: '7' }],
    ['negative version', { ...state, version: -1 }],
    ['string protocol', { ...state, protocols: { imap: 'true' } }],
    ['bad timestamp', { ...state, updatedAt: 'yesterday' }],
    ['null', null],
  ])('rejects an AccessState with %s', (_label, body) => {
    expect(checkAccessState(body, A).ok).toBe(false);
  });

  it('a PATCH answer needs "changed"; sessions must be revoked|none', () => {
    expect(checkPatchResult({ ...state, changed: true, sessions: 'revoked' }, A)).toEqual({
      ok: true,
      value: { ...state, changed: true, sessions: 'revoked' },
    });
    expect(checkPatchResult(state, A).ok).toBe(false);
    expect(checkPatchResult({ ...state, changed: false, sessions: 'maybe' }, A).ok).toBe(false);
  });

  it('a sessions answer must name the account', () => {
    expect(checkRevokeResult({ account: A, sessions: 'none' }, A)).toEqual({
      ok: true,
      value: { account: A, sessions: 'none' },
    });
    expect(checkRevokeResult({ account: B, sessions: 'none' }, A).ok).toBe(false);
  });

  describe('checkBatchResult', () => {
    const items = [
      { account: A, protocols: { imap: true } },
      { account: B, protocols: { imap: true } },
    ];
    const applied = { account: A, status: 'applied', protocols: { imap: true }, previous: { imap: false }, version: 8 };
    const notFound = { account: B, status: 'not_found', error: { code: 'account_not_found' } };

    it('maps results by position and counts the summary itself', () => {
      const checked = checkBatchResult(
        { batchId: 'b1', summary: { applied: 99, unchanged: 0, failed: 0 }, results: [applied, notFound] },
        items,
      );
      expect(checked).toEqual({
        ok: true,
        value: {
          batchId: 'b1',
          summary: { applied: 1, unchanged: 0, failed: 1 },
          results: [applied, { account: B, status: 'not_found', error: { code: 'account_not_found' } }],
        },
      });
    });

    it.each([
      ['fewer results than items', [applied]],
      ['more results than items', [applied, notFound, notFound]],
      ['results in another order', [notFound, applied]],
      ['an unknown status', [applied, { ...notFound, status: 'skipped' }]],
      ['applied without version', [{ account: A, status: 'applied', protocols: { imap: true } }, notFound]],
      // The state an applied or unchanged item carries is recorded as the account's: it must hold what was asked.
      ['applied with the asked protocol off', [{ ...applied, protocols: { imap: false, pop3: false } }, notFound]],
      ['applied without the asked protocol', [{ ...applied, protocols: { pop3: false } }, notFound]],
      [
        'unchanged with the asked protocol off',
        [{ ...applied, status: 'unchanged', protocols: { imap: false } }, notFound],
      ],
    ])('rejects %s (the whole call becomes unknown)', (_label, results) => {
      expect(checkBatchResult({ results }, items).ok).toBe(false);
    });
  });
});
