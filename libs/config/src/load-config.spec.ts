import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('gives working developer defaults when nothing is set', () => {
    const config = loadConfig({});
    // The services connect as the runtime role; the CLI migrates and manages keys as the owner (root here).
    expect(config.DATABASE_URL).toBe('postgres://reopen_app@127.0.0.1:5432/reopen');
    expect(config.OWNER_DATABASE_URL).toBe('postgres://root@127.0.0.1:5432/reopen');
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.MAILSTORE_URL).toMatch(/\/v1$/);
    expect(config.PORT).toBe(3000);
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('reads the variables it knows and converts numbers', () => {
    const config = loadConfig({ PORT: '8080', LOG_LEVEL: 'debug', MAILSTORE_URL: 'https://gw.example/v1' });
    expect(config.PORT).toBe(8080);
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config.MAILSTORE_URL).toBe('https://gw.example/v1');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        MAILSTORE_URL: 'http://gw.example/api',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        OWNER_DATABASE_URL: 'postgres://root@127.0.0.1:5432',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'MAILSTORE_URL', 'LOG_LEVEL', 'DATABASE_URL', 'OWNER_DATABASE_URL'])
      expect(message).toContain(name);
    expect((error as ConfigError).problems.length).toBeGreaterThanOrEqual(5);
  });

  it('refuses a port out of range', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
  });

  it('starts no worker health listener unless WORKER_HEALTH_PORT is set, and takes 0 for a free port', () => {
    expect(loadConfig({}).WORKER_HEALTH_PORT).toBeUndefined();
    expect(loadConfig({ WORKER_HEALTH_PORT: '3001' }).WORKER_HEALTH_PORT).toBe(3001);
    expect(loadConfig({ WORKER_HEALTH_PORT: '0' }).WORKER_HEALTH_PORT).toBe(0);
    expect(() => loadConfig({ WORKER_HEALTH_PORT: 'health' })).toThrow(/WORKER_HEALTH_PORT must be an integer/);
    expect(() => loadConfig({ WORKER_HEALTH_PORT: '70000' })).toThrow(/WORKER_HEALTH_PORT/);
  });
});
