import { IMAP_ON, IMAP_SET, POP3_SET } from './desired-state';
import { Problem } from './problem';
import {
  accountFromPath,
  accountProblem,
  canonicalJson,
  desiredFromProtocols,
  idempotencyKeyProblem,
  parseIfMatch,
  parseJsonObject,
} from './request-validation';

describe('accountProblem', () => {
  it.each(['user1@example.test', 'a', 'dr.émile@clinique.fr', 'x'.repeat(320)])('accepts %s', (account) => {
    expect(accountProblem(account)).toBeUndefined();
  });

  it.each([[42], [''], [' a@b'], ['a@b\n'], ['a\u0000b'], ['x'.repeat(321)], [null]])('refuses %j', (account) => {
    expect(accountProblem(account)).toEqual(expect.any(String));
  });
});

describe('accountFromPath', () => {
  it('decodes percent-encoding, slashes included', () => {
    expect(accountFromPath('a%2Fb%40c.test')).toBe('a/b@c.test');
  });

  it('refuses broken encoding as invalid_account', () => {
    const problem = accountFromPath('%E0%A4%A') as Problem;
    expect(problem).toBeInstanceOf(Problem);
    expect(problem.code).toBe('invalid_account');
  });
});

describe('desiredFromProtocols', () => {
  it('packs what was sent', () => {
    expect(desiredFromProtocols({ imap: true })).toBe(IMAP_SET | IMAP_ON);
    expect(desiredFromProtocols({ imap: false, pop3: false })).toBe(IMAP_SET | POP3_SET);
  });

  it.each([
    [{}, 'invalid_protocols'],
    [{ imap: 'yes' }, 'invalid_protocols'],
    [['imap'], 'invalid_protocols'],
    [null, 'invalid_protocols'],
    [{ smtp: true }, 'unsupported_protocol'],
  ])('refuses %j with %s', (value, code) => {
    expect(desiredFromProtocols(value)).toMatchObject({ code });
  });
});

describe('parseIfMatch', () => {
  it('reads one or several strong tags and the wildcard', () => {
    expect(parseIfMatch('"7"')).toEqual([7]);
    expect(parseIfMatch('"6", "7"')).toEqual([6, 7]);
    expect(parseIfMatch('*')).toBe('*');
  });

  it('accepts weak tags syntactically but never matches them', () => {
    expect(parseIfMatch('W/"7"')).toEqual([]);
  });

  it.each(['7', '"abc"', '', '"7" junk'])('refuses %j as invalid_if_match', (value) => {
    expect((parseIfMatch(value) as Problem).code).toBe('invalid_if_match');
  });
});

describe('idempotencyKeyProblem', () => {
  it('accepts 1 to 255 characters', () => {
    expect(idempotencyKeyProblem('wave-3/batch-17/attempt-group-1')).toBeUndefined();
    expect(idempotencyKeyProblem('k'.repeat(255))).toBeUndefined();
  });

  it('refuses an empty or over-long key', () => {
    expect(idempotencyKeyProblem('')?.code).toBe('invalid_idempotency_key');
    expect(idempotencyKeyProblem('k'.repeat(256))?.code).toBe('invalid_idempotency_key');
  });
});

describe('parseJsonObject', () => {
  const body = (text: string): Buffer => Buffer.from(text);

  it('parses a JSON object', () => {
    expect(parseJsonObject(body('{"a":1}'), 'application/json; charset=utf-8')).toEqual({ a: 1 });
    expect(parseJsonObject(body('{"a":1}'), undefined)).toEqual({ a: 1 });
  });

  it.each([
    ['{"a":', 'application/json', 'invalid_json'],
    ['[1]', 'application/json', 'invalid_request'],
    ['', 'application/json', 'invalid_request'],
    ['{"a":1}', 'text/plain', 'invalid_request'],
  ])('refuses %j (%s) as %s', (text, contentType, code) => {
    expect((parseJsonObject(body(text), contentType) as Problem).code).toBe(code);
  });
});

describe('canonicalJson', () => {
  it('is the same for bodies that differ only in key order', () => {
    expect(canonicalJson({ b: [1, { y: 2, x: 1 }], a: 'z' })).toBe(canonicalJson({ a: 'z', b: [1, { x: 1, y: 2 }] }));
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: 2 }));
  });
});
