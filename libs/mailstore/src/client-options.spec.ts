import { classifyNetworkError } from './http-transport';
import { validateClientOptions, validateIdempotencyKey } from './client-options';

describe('validateClientOptions', () => {
  it('fills defaults (16 connections, 10 s, 4 MiB)', () => {
    expect(validateClientOptions({ baseUrl: 'http://127.0.0.1:8025/v1', token: 't' })).toMatchObject({
      connections: 16,
      requestTimeoutMs: 10_000,
      maxResponseBytes: 4 * 1024 * 1024,
    });
  });

  it.each([
    [{ baseUrl: 'http://127.0.0.1:8025', token: 't' }],
    [{ baseUrl: 'ftp://h/v1', token: 't' }],
    [{ baseUrl: 'not a url', token: 't' }],
    [{ baseUrl: 'http://h/v1', token: '' }],
    [{ baseUrl: 'http://h/v1', token: 't', connections: 0 }],
  ])('refuses %p at construction', (options) => {
    expect(() => validateClientOptions(options)).toThrow(TypeError);
  });
});

describe('validateIdempotencyKey', () => {
  it('accepts up to 255 printable characters', () => {
    expect(validateIdempotencyKey('wave-3/batch-17/attempt-group-1')).toBe('wave-3/batch-17/attempt-group-1');
    expect(validateIdempotencyKey('k'.repeat(255))).toHaveLength(255);
  });

  it.each([undefined, '', ' k', 'k'.repeat(256), 'a\nb', 'clé'])('refuses %p', (key) => {
    expect(() => validateIdempotencyKey(key)).toThrow(TypeError);
  });
});

describe('classifyNetworkError', () => {
  const err = (code: string, nested?: object) => Object.assign(new Error(code), { code }, nested);

  it.each([
    ['ECONNREFUSED', 'connection_refused', false],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', false],
    ['ECONNRESET', 'connection_reset', true],
    ['UND_ERR_SOCKET', 'connection_reset', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', true],
    ['HPE_INVALID_CONSTANT', 'protocol_error', true],
  ])('%s → %s (sent: %p)', (code, expected, sent) => {
    expect(classifyNetworkError(err(code))).toEqual({ code: expected, sent });
  });

  it('looks into AggregateError.errors and cause', () => {
    const aggregate = Object.assign(new AggregateError([err('ECONNREFUSED')]), {});
    expect(classifyNetworkError(aggregate)).toEqual({ code: 'connection_refused', sent: false });
    expect(classifyNetworkError(new Error('x', { cause: err('ECONNRESET') }))).toEqual({
      code: 'connection_reset',
      sent: true,
    });
  });
});
