import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiOrigin, profilesPath, resolveConnection } from './profile';

describe('reopen: where the URL and the key come from', () => {
  let home: string;
  const uid = process.getuid!();
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'reopen-profile-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  function writeProfiles(content: unknown, mode = 0o600): string {
    const file = profilesPath({}, home);
    mkdirSync(join(home, '.config', 'reopen'), { recursive: true });
    writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
    chmodSync(file, mode);
    return file;
  }
  const profiles = {
    default: 'staging',
    profiles: {
      staging: { url: 'http://staging:3000', apiKey: 'rk_ops_staging' },
      prod: { url: 'https://ops.example.org/reopen/api/v1/', apiKey: 'rk_ops_prod' },
    },
  };

  it('reads REOPEN_URL and REOPEN_API_KEY', () => {
    expect(resolveConnection({}, { REOPEN_URL: 'http://127.0.0.1:3000/', REOPEN_API_KEY: 'k' }, home, uid)).toEqual({
      origin: 'http://127.0.0.1:3000',
      apiKey: 'k',
      source: 'environment',
      urlSource: 'REOPEN_URL',
      keySource: 'REOPEN_API_KEY',
    });
    expect(() => resolveConnection({}, { REOPEN_URL: 'http://x' }, home, uid)).toThrow('REOPEN_API_KEY is not');
    expect(() => resolveConnection({}, {}, home, uid)).toThrow(
      /no API to talk to: set REOPEN_URL and REOPEN_API_KEY, or write .*profiles\.json/,
    );
  });

  it('takes the named profile first, then the environment, then the default profile; --url replaces the URL', () => {
    const file = writeProfiles(profiles);
    const env = { REOPEN_URL: 'http://env:1', REOPEN_API_KEY: 'rk_env' };
    expect(resolveConnection({ profile: 'prod' }, env, home, uid)).toEqual({
      origin: 'https://ops.example.org/reopen',
      apiKey: 'rk_ops_prod',
      source: `profile prod (${file})`,
      urlSource: `profile prod (${file})`,
      keySource: `profile prod (${file})`,
    });
    expect(resolveConnection({}, { ...env, REOPEN_PROFILE: 'prod' }, home, uid).apiKey).toBe('rk_ops_prod');
    expect(resolveConnection({}, env, home, uid).apiKey).toBe('rk_env');
    expect(resolveConnection({}, {}, home, uid)).toMatchObject({
      origin: 'http://staging:3000',
      apiKey: 'rk_ops_staging',
    });
    expect(resolveConnection({ url: 'http://other:4000' }, {}, home, uid)).toMatchObject({
      origin: 'http://other:4000',
      urlSource: '--url',
      keySource: `profile staging (${file})`,
    });
    expect(() => resolveConnection({ profile: 'qa' }, {}, home, uid)).toThrow('no profile "qa" in');
    expect(resolveConnection({}, { XDG_CONFIG_HOME: join(home, 'none'), ...env }, home, uid).source).toBe(
      'environment',
    );
  });

  it.each([0o644, 0o640, 0o604, 0o660])('refuses a profiles file with mode %o, as ssh refuses such a key', (mode) => {
    const file = writeProfiles(profiles, mode);
    expect(() => resolveConnection({}, {}, home, uid)).toThrow(
      `permissions 0${mode.toString(8)} for ${file} are too open: it holds API keys, so no one else may read it (chmod 600 ${file})`,
    );
  });

  it('accepts 0400 and refuses a file of another user (one of root is fine, as for ssh)', () => {
    const file = writeProfiles(profiles, 0o400);
    expect(resolveConnection({}, {}, home, uid).apiKey).toBe('rk_ops_staging');
    // Root (the CI) gives the file away; anyone else reads their own file as another user would.
    if (uid === 0) chownSync(file, 4242, 4242);
    const reader = uid === 0 ? 0 : uid + 1000;
    expect(() => resolveConnection({}, {}, home, reader)).toThrow(
      `${file} belongs to uid ${uid === 0 ? 4242 : uid}, not to you (uid ${reader}): refused`,
    );
  });

  it.each([
    ['{', 'is not JSON'],
    [{ profiles: { a: { url: 'http://a' } } }, 'profiles.a needs "url" and "apiKey"'],
    [{ profiles: [] }, '"profiles" must be an object'],
    [{ profiles: { a: { url: 'http://a', apiKey: 'k' } } }, 'has no default profile'],
  ])('says what is wrong with the file: %j', (content, message) => {
    writeProfiles(content);
    expect(() => resolveConnection({}, {}, home, uid)).toThrow(message);
  });

  it('takes an origin, a path prefix or the API base, and refuses what is not an http(s) URL', () => {
    expect(apiOrigin('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000');
    expect(apiOrigin('https://ops.example.org/reopen/api/v1')).toBe('https://ops.example.org/reopen');
    expect(() => apiOrigin('ftp://files.example.org')).toThrow('is not an http(s) URL');
    expect(() => apiOrigin('127.0.0.1:3000')).toThrow(
      '"127.0.0.1:3000" is not a URL (expected e.g. http://127.0.0.1:3000)',
    );
  });
});
