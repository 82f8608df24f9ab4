import { loadApiSettings, trustProxySetting } from './api-settings';

describe('API settings: the limits before authentication', () => {
  it('defaults: 5 streams per key, 120 unauthenticated requests a minute per address, 5 s refusals, no proxy', () => {
    const s = loadApiSettings({});
    expect(s).toMatchObject({
      API_SSE_MAX_STREAMS_PER_KEY: 5,
      API_PREAUTH_LIMIT_PER_MINUTE: 120,
      API_KEY_NEGATIVE_CACHE_MS: 5000,
      API_TRUST_PROXY: '',
    });
    expect(trustProxySetting(s)).toBe(false);
  });

  it.each([
    ['', false],
    ['false', false],
    ['1', 1],
    ['loopback', 'loopback'],
    ['10.0.0.0/8, 192.0.2.7,loopback', '10.0.0.0/8, 192.0.2.7,loopback'],
    ['2001:db8::/32,uniquelocal', '2001:db8::/32,uniquelocal'],
  ])('trusts proxies %j as %j', (value, setting) => {
    expect(trustProxySetting(loadApiSettings({ API_TRUST_PROXY: value }))).toEqual(setting);
  });

  it.each([
    ['true', /would let any client choose its address/],
    ['10.0.0.0/33', /"10.0.0.0\/33" is not an address/],
    ['proxy.example.test', /"proxy.example.test" is not an address/],
    ['10.0.0.1/8/8', /is not an address/],
  ])('refuses to boot with API_TRUST_PROXY=%j, saying why', (value, message) => {
    expect(() => loadApiSettings({ API_TRUST_PROXY: value })).toThrow(message);
  });

  it("bounds slow clients: headers within 10 s, a whole request within node's 300 s, keep-alive 5 s", () => {
    expect(loadApiSettings({})).toMatchObject({
      API_HEADERS_TIMEOUT_MS: 10_000,
      API_REQUEST_TIMEOUT_MS: 300_000,
      API_KEEP_ALIVE_TIMEOUT_MS: 5_000,
    });
  });

  it('refuses a headers timeout longer than the request timeout, naming both', () => {
    expect(() => loadApiSettings({ API_HEADERS_TIMEOUT_MS: '20000', API_REQUEST_TIMEOUT_MS: '10000' })).toThrow(
      /API_HEADERS_TIMEOUT_MS must not be longer than API_REQUEST_TIMEOUT_MS/,
    );
    expect(loadApiSettings({ API_HEADERS_TIMEOUT_MS: '10000', API_REQUEST_TIMEOUT_MS: '10000' })).toMatchObject({
      API_HEADERS_TIMEOUT_MS: 10_000,
    });
  });

  it.each(['API_SSE_MAX_STREAMS_PER_KEY', 'API_PREAUTH_LIMIT_PER_MINUTE'])('refuses %s=0', (name) => {
    expect(() => loadApiSettings({ [name]: '0' })).toThrow(new RegExp(`${name} must be an integer from 1 to`));
  });
});
