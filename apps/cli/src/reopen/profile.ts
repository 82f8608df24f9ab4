import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the CLI talks to, and as whom. */
export interface Connection {
  /** The API's origin, with a path prefix if it sits behind one (no trailing slash, no /api/v1). */
  origin: string;
  apiKey: string;
  /** Where the pair came from, for error lines: `environment`, or `profile NAME (FILE)`. */
  source: string;
  /** Where the URL came from, for the line of an API that does not answer: `--url`, `REOPEN_URL` or the profile. */
  urlSource: string;
  /** Where the key came from, for the line of a 401 or 403: `REOPEN_API_KEY` or the profile. */
  keySource: string;
}

/** A setting the operator must fix: the CLI exits with the usage code and this one message. */
export class ConnectionSettingsError extends Error {
  override name = 'ConnectionSettingsError';
}

/**
 * profiles.json: `{"default": "prod", "profiles": {"prod": {"url": "https://…", "apiKey": "rk_ops_…"}}}`.
 * `default` names the profile used when neither --profile, REOPEN_PROFILE nor REOPEN_URL/REOPEN_API_KEY say otherwise.
 */
interface ProfilesFile {
  default?: string;
  profiles: Record<string, { url: string; apiKey: string }>;
}

/** $REOPEN_PROFILES, else $XDG_CONFIG_HOME/reopen/profiles.json, else ~/.config/reopen/profiles.json. */
export function profilesPath(env: NodeJS.ProcessEnv, home: string): string {
  if (env.REOPEN_PROFILES) return env.REOPEN_PROFILES;
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'reopen', 'profiles.json');
}

/**
 * The URL and key to use, first found: the profile --profile (or REOPEN_PROFILE) names; REOPEN_URL with
 * REOPEN_API_KEY; the profiles file's default profile. `--url` replaces the URL found. A key is never taken from the
 * command line (it would show in `ps` and the shell history).
 */
export function resolveConnection(
  flags: { profile?: string; url?: string },
  env: NodeJS.ProcessEnv,
  home: string,
  uid: number | null = process.getuid?.() ?? null,
): Connection {
  const file = profilesPath(env, home);
  const named = flags.profile ?? (env.REOPEN_PROFILE || undefined);
  let found: { url: string | undefined; apiKey: string | undefined; source: string };
  if (named !== undefined) {
    found = fromProfile(loadProfiles(file, uid, true)!, named, file);
  } else if (env.REOPEN_URL || env.REOPEN_API_KEY) {
    found = { url: env.REOPEN_URL, apiKey: env.REOPEN_API_KEY, source: 'environment' };
    if (!found.apiKey) throw new ConnectionSettingsError('REOPEN_URL is set but REOPEN_API_KEY is not');
  } else {
    const profiles = loadProfiles(file, uid, false);
    if (!profiles) {
      throw new ConnectionSettingsError(
        `no API to talk to: set REOPEN_URL and REOPEN_API_KEY, or write ${file} (see docs/cli.md, "Connection")`,
      );
    }
    const name = profiles.default ?? 'default';
    if (!Object.hasOwn(profiles.profiles, name))
      throw new ConnectionSettingsError(`${file} has no default profile: name one with "default", or use --profile`);
    found = fromProfile(profiles, name, file);
  }
  const url = flags.url ?? found.url;
  if (!url) throw new ConnectionSettingsError(`no API URL: set REOPEN_URL or --url (key from ${found.source})`);
  const fromEnv = found.source === 'environment';
  return {
    origin: apiOrigin(url),
    apiKey: found.apiKey!,
    source: found.source,
    urlSource: flags.url !== undefined ? '--url' : fromEnv ? 'REOPEN_URL' : found.source,
    keySource: fromEnv ? 'REOPEN_API_KEY' : found.source,
  };
}

function fromProfile(profiles: ProfilesFile, name: string, file: string) {
  if (!Object.hasOwn(profiles.profiles, name)) {
    const known = Object.keys(profiles.profiles).join(', ') || 'none';
    throw new ConnectionSettingsError(`no profile "${name}" in ${file} (profiles: ${known})`);
  }
  const p = profiles.profiles[name];
  return { url: p.url, apiKey: p.apiKey, source: `profile ${name} (${file})` };
}

/**
 * Reads the profiles file, refusing it as ssh refuses a private key: the file holds API keys, so it must belong to
 * the user (or root) and be readable and writable by nobody else (mode 600 or stricter).
 */
function loadProfiles(file: string, uid: number | null, required: boolean): ProfilesFile | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return null;
    throw new ConnectionSettingsError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    throw new ConnectionSettingsError(
      `permissions ${mode} for ${file} are too open: it holds API keys, so no one else may read it (chmod 600 ${file})`,
    );
  }
  if (uid !== null && st.uid !== uid && st.uid !== 0)
    throw new ConnectionSettingsError(`${file} belongs to uid ${st.uid}, not to you (uid ${uid}): refused`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConnectionSettingsError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const problem = profilesProblem(parsed);
  if (problem) throw new ConnectionSettingsError(`${file}: ${problem}`);
  return parsed as ProfilesFile;
}

function profilesProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected an object';
  const { default: name, profiles } = v as Record<string, unknown>;
  if (name !== undefined && typeof name !== 'string') return '"default" must be a profile name';
  if (typeof profiles !== 'object' || profiles === null || Array.isArray(profiles))
    return '"profiles" must be an object of {url, apiKey}';
  for (const [key, p] of Object.entries(profiles)) {
    const { url, apiKey } = (p ?? {}) as Record<string, unknown>;
    if (typeof url !== 'string' || typeof apiKey !== 'string')
      return `profiles.${key} needs "url" and "apiKey" (strings)`;
  }
  return null;
}

/** "https://ops.example.org/reopen/api/v1/" → "https://ops.example.org/reopen": the client adds /api/v1 itself. */
export function apiOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConnectionSettingsError(`"${url}" is not a URL (expected e.g. http://127.0.0.1:3000)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new ConnectionSettingsError(`"${url}" is not an http(s) URL`);
  const path = u.pathname.replace(/\/+$/, '').replace(/\/api\/v1$/, '');
  return `${u.origin}${path}`;
}
