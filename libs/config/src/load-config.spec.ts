import { EnvironmentDto, LEASE_MARGIN_MS } from './env.dto';
import { ConfigError, loadConfig } from './load-config';

describe('loadConfig', () => {
  it('gives working developer defaults when nothing is set', () => {
    const config = loadConfig({});
    // The services connect as the runtime role; the CLI migrates and manages keys as the owner (root here).
    expect(config.DATABASE_URL).toBe('postgres://reopen_app@127.0.0.1:5432/reopen');
    expect(config.OWNER_DATABASE_URL).toBe('postgres://root@127.0.0.1:5432/reopen');
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.MAILSTORE_DRIVER).toBe('http');
    expect(config.PORT).toBe(3000);
    expect(config.LOG_LEVEL).toBe('info');
  });

  it('reads the variables it knows and converts numbers', () => {
    const config = loadConfig({ PORT: '8080', LOG_LEVEL: 'debug', MAILSTORE_DRIVER: 'dovecot-sql' });
    expect(config.PORT).toBe(8080);
    expect(config.LOG_LEVEL).toBe('debug');
    expect(config.MAILSTORE_DRIVER).toBe('dovecot-sql');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        REDIS_URL: 'localhost:6379',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://x',
        OWNER_DATABASE_URL: 'postgres://root@127.0.0.1:5432',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'REDIS_URL', 'LOG_LEVEL', 'DATABASE_URL', 'OWNER_DATABASE_URL'])
      expect(message).toContain(name);
    expect((error as ConfigError).problems.length).toBeGreaterThanOrEqual(5);
  });

  it('keeps the variables it was read from for the mailstore driver, out of any spread, log line or JSON of it', () => {
    const config = loadConfig({ MAILSTORE_DRIVER: 'ldap', LDAP_BIND_PASSWORD: 'pw-secret', PORT: '' });
    expect(config.environment).toMatchObject({ MAILSTORE_DRIVER: 'ldap', LDAP_BIND_PASSWORD: 'pw-secret' });
    expect(JSON.stringify(config)).not.toContain('pw-secret');
    expect(Object.keys({ ...config })).not.toContain('environment');
    expect(new EnvironmentDto().environment).toEqual({});
  });

  it('refuses a port out of range or not a number, saying the bounds', () => {
    for (const port of ['70000', 'eighty', '80.5'])
      expect(() => loadConfig({ PORT: port })).toThrow('PORT must be an integer from 0 to 65535');
  });

  it('starts no worker health listener unless WORKER_HEALTH_PORT is set, and takes 0 for a free port', () => {
    expect(loadConfig({}).WORKER_HEALTH_PORT).toBeUndefined();
    expect(loadConfig({ WORKER_HEALTH_PORT: '3001' }).WORKER_HEALTH_PORT).toBe(3001);
    expect(loadConfig({ WORKER_HEALTH_PORT: '0' }).WORKER_HEALTH_PORT).toBe(0);
    expect(() => loadConfig({ WORKER_HEALTH_PORT: 'health' })).toThrow(/WORKER_HEALTH_PORT must be an integer/);
    expect(() => loadConfig({ WORKER_HEALTH_PORT: '70000' })).toThrow(/WORKER_HEALTH_PORT/);
  });

  it('gives the engine its settings, with the values it always ran with as defaults', () => {
    const config = loadConfig({});
    expect({
      lease: config.BATCH_LEASE_MS,
      sendWindow: config.BATCH_SEND_WINDOW_MS,
      failures: config.BATCH_MAX_CONSECUTIVE_FAILURES,
      backoff: [config.BATCH_RETRY_BASE_MS, config.BATCH_RETRY_MAX_MS],
      pace: [config.PACE_MIN_FACTOR, config.PACE_RECOVERY_STEP],
      support: config.SUPPORT_CONCURRENCY,
    }).toEqual({ lease: 15000, sendWindow: 200, failures: 5, backoff: [500, 8000], pace: [0.05, 0.05], support: 8 });
    const tuned = loadConfig({ BATCH_SEND_WINDOW_MS: '150', PACE_MIN_FACTOR: '0.2', SUPPORT_CONCURRENCY: '2' });
    expect([tuned.BATCH_SEND_WINDOW_MS, tuned.PACE_MIN_FACTOR, tuned.SUPPORT_CONCURRENCY]).toEqual([150, 0.2, 2]);
  });

  it('refuses a lease shorter than one mailstore attempt plus its margin, naming both settings', () => {
    expect(LEASE_MARGIN_MS).toBe(5000);
    expect(loadConfig({ MAILSTORE_TIMEOUT_MS: '1000', BATCH_LEASE_MS: '6000' }).BATCH_LEASE_MS).toBe(6000);
    expect(() => loadConfig({ MAILSTORE_TIMEOUT_MS: '1000', BATCH_LEASE_MS: '5999' })).toThrow(
      'BATCH_LEASE_MS must be at least MAILSTORE_TIMEOUT_MS + 5000 (6000 here)',
    );
    // The default lease (15 s) no longer fits a longer timeout: said at boot, not discovered as a double send.
    expect(() => loadConfig({ MAILSTORE_TIMEOUT_MS: '20000' })).toThrow(/BATCH_LEASE_MS must be at least/);
    // A timeout that is itself invalid is named once, as such.
    const error = (() => {
      try {
        loadConfig({ MAILSTORE_TIMEOUT_MS: 'soon' });
      } catch (err) {
        return err as ConfigError;
      }
    })();
    expect(error?.problems).toEqual([expect.stringMatching(/^MAILSTORE_TIMEOUT_MS /)]);
  });

  it('refuses engine settings out of their ranges or relations', () => {
    expect(() => loadConfig({ BATCH_SEND_WINDOW_MS: '50' })).toThrow(/BATCH_SEND_WINDOW_MS/);
    expect(() => loadConfig({ BATCH_SEND_WINDOW_MS: '5000' })).toThrow(/BATCH_SEND_WINDOW_MS/);
    expect(() => loadConfig({ BATCH_MAX_CONSECUTIVE_FAILURES: '0' })).toThrow(/BATCH_MAX_CONSECUTIVE_FAILURES/);
    expect(() => loadConfig({ BATCH_RETRY_BASE_MS: '2000', BATCH_RETRY_MAX_MS: '1000' })).toThrow(
      'BATCH_RETRY_MAX_MS must be at least BATCH_RETRY_BASE_MS (2000 here)',
    );
    expect(() => loadConfig({ PACE_MIN_FACTOR: '0' })).toThrow(/PACE_MIN_FACTOR/);
    expect(() => loadConfig({ PACE_RECOVERY_STEP: 'fast' })).toThrow(/PACE_RECOVERY_STEP must be a number/);
    expect(() => loadConfig({ SUPPORT_CONCURRENCY: '0' })).toThrow(/SUPPORT_CONCURRENCY/);
  });

  it('bounds notification retries: a day by default, no attempts bound; refuses a bound out of range, naming it', () => {
    expect(loadConfig({})).toMatchObject({ NOTIFY_GIVE_UP_AFTER_S: 86400, NOTIFY_MAX_ATTEMPTS: 0 });
    expect(loadConfig({ NOTIFY_GIVE_UP_AFTER_S: '3600', NOTIFY_MAX_ATTEMPTS: '20' })).toMatchObject({
      NOTIFY_GIVE_UP_AFTER_S: 3600,
      NOTIFY_MAX_ATTEMPTS: 20,
    });
    expect(() => loadConfig({ NOTIFY_GIVE_UP_AFTER_S: '0' })).toThrow(/NOTIFY_GIVE_UP_AFTER_S/);
    expect(() => loadConfig({ NOTIFY_GIVE_UP_AFTER_S: 'forever' })).toThrow(
      /NOTIFY_GIVE_UP_AFTER_S must be an integer/,
    );
    expect(() => loadConfig({ NOTIFY_MAX_ATTEMPTS: '-1' })).toThrow(/NOTIFY_MAX_ATTEMPTS/);
  });

  it('reads the receivers a deployment names, and refuses a bad entry at boot, naming it', () => {
    expect(loadConfig({}).NOTIFY_ALLOWED_HOSTS).toBeUndefined();
    expect(loadConfig({ NOTIFY_ALLOWED_HOSTS: 'hooks.slack.com,10.0.0.0/8' }).NOTIFY_ALLOWED_HOSTS).toBe(
      'hooks.slack.com,10.0.0.0/8',
    );
    expect(() => loadConfig({ NOTIFY_ALLOWED_HOSTS: 'hooks.slack.com,https://x.example' })).toThrow(
      'NOTIFY_ALLOWED_HOSTS: "https://x.example" is not a host name, a *.domain, an address or a CIDR range',
    );
  });
});
