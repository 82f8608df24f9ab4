import { FilterParser, type Filter } from 'ldapts';
import type { Protocol } from '../../mailstore.types';

/**
 * Where the per-protocol switches live on an account's entry:
 * - `attributes`: one attribute per protocol holding `trueValue` (on) or anything else / nothing (off);
 * - `list`: one multi-valued attribute holding the protocols the account may use (other values are left alone).
 */
type LdapSwitches =
  | { mode: 'attributes'; attributes: Record<Protocol, string>; trueValue: string; falseValue: string }
  | { mode: 'list'; attribute: string; values: Record<Protocol, string> };

interface DoveadmOptions {
  /** Base URL of Dovecot's doveadm HTTP API, e.g. `http://127.0.0.1:8080` (the client adds `/doveadm/v1`). */
  url: string;
  apiKey: string;
  timeoutMs: number;
}

export interface LdapMailstoreOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  bindDn: string;
  bindPassword: string;
  /** Accounts are searched under it (subtree). */
  baseDn: string;
  /** The attribute holding the login the engine knows (uid, mail …). */
  loginAttribute: string;
  /** ANDed with the login equality (e.g. `(objectClass=inetOrgPerson)`), parsed at boot. */
  filter: Filter;
  switches: LdapSwitches;
  /** An integer attribute the driver raises by one with every change it makes: the `version` of ifVersion. */
  versionAttribute: string;
  /** Connections to the directory, each bound as `bindDn`. */
  poolSize: number;
  /** Per LDAP operation, and per connection attempt. */
  timeoutMs: number;
  connectTimeoutMs: number;
  maxBatchItems: number;
  /** Advertised in the capabilities: the engine's shared throttle paces writes to it. */
  updatesPerSecond: number;
  /** Session revocation (`kick`) through doveadm's HTTP API; none when absent. */
  doveadm?: DoveadmOptions;
}

/** A misconfigured driver refuses to start and names the variable (never its value when it is a secret). */
export class LdapSettingsError extends Error {
  /** The message says what to fix: a process prints it alone, without a stack (libs/config startup-failure.ts). */
  readonly operatorFix = true;

  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'LdapSettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

// RFC 4512 §2.5 attribute description: a name (letter, then letters, digits, hyphens) or a numeric OID.
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;
// A protocol value of the list mode, compared by the attribute's matching rule (caseIgnoreIA5Match in our schema).
const LIST_VALUE = /^[\x21-\x7e]{1,64}$/;

/**
 * The ldap driver's settings from an env-like record. Throws `LdapSettingsError` naming the first offending
 * variable. The coordinator wires this into libs/config (MAILSTORE_DRIVER=ldap).
 */
export function parseLdapSettings(env: Env): LdapMailstoreOptions {
  const url = required(env, 'LDAP_URL');
  if (!/^ldaps?:\/\/[^/\s?#]+\/?$/i.test(url)) {
    throw new LdapSettingsError('LDAP_URL', 'must be ldap://host[:port] or ldaps://host[:port]');
  }
  const bindDn = dn(env, 'LDAP_BIND_DN');
  const bindPassword = env.LDAP_BIND_PASSWORD ?? '';
  if (bindPassword.length === 0) throw new LdapSettingsError('LDAP_BIND_PASSWORD', 'is required');
  const baseDn = dn(env, 'LDAP_BASE_DN');
  const loginAttribute = attribute(env, 'LDAP_LOGIN_ATTRIBUTE', 'uid');
  const filter = parseFilter(env.LDAP_FILTER ?? '(objectClass=*)');

  const versionAttribute = attribute(env, 'LDAP_VERSION_ATTRIBUTE');
  const switches = parseSwitches(env);
  const named = [loginAttribute, versionAttribute, ...switchAttributes(switches)].map((a) => a.toLowerCase());
  if (new Set(named).size !== named.length) {
    throw new LdapSettingsError(
      'LDAP_VERSION_ATTRIBUTE',
      'and the login and switch attributes must be different attributes',
    );
  }

  const options: LdapMailstoreOptions = {
    url,
    bindDn,
    bindPassword,
    baseDn,
    loginAttribute,
    filter,
    switches,
    versionAttribute,
    poolSize: integer(env, 'LDAP_POOL_SIZE', 4, 1, 64),
    timeoutMs: integer(env, 'LDAP_TIMEOUT_MS', 5_000, 100, 120_000),
    connectTimeoutMs: integer(env, 'LDAP_CONNECT_TIMEOUT_MS', 2_000, 100, 60_000),
    maxBatchItems: integer(env, 'LDAP_MAX_BATCH_ITEMS', 500, 1, 5_000),
    updatesPerSecond: integer(env, 'LDAP_UPDATES_PER_SECOND', 1_000, 1, 1_000_000),
  };
  const doveadm = parseDoveadm(env);
  if (doveadm) options.doveadm = doveadm;
  return options;
}

/** The attributes a driver reads and writes for the switches. */
export function switchAttributes(switches: LdapSwitches): string[] {
  return switches.mode === 'attributes' ? Object.values(switches.attributes) : [switches.attribute];
}

function parseSwitches(env: Env): LdapSwitches {
  const list = env.LDAP_PROTOCOLS_ATTRIBUTE;
  const perProtocol = env.LDAP_IMAP_ATTRIBUTE !== undefined || env.LDAP_POP3_ATTRIBUTE !== undefined;
  if (list !== undefined && perProtocol) {
    throw new LdapSettingsError(
      'LDAP_PROTOCOLS_ATTRIBUTE',
      'cannot be set with LDAP_IMAP_ATTRIBUTE/LDAP_POP3_ATTRIBUTE: choose one multi-valued attribute or one per protocol',
    );
  }
  if (list !== undefined) {
    return {
      mode: 'list',
      attribute: attribute(env, 'LDAP_PROTOCOLS_ATTRIBUTE'),
      values: { imap: listValue(env, 'LDAP_IMAP_VALUE', 'imap'), pop3: listValue(env, 'LDAP_POP3_VALUE', 'pop3') },
    };
  }
  if (!perProtocol) {
    throw new LdapSettingsError(
      'LDAP_IMAP_ATTRIBUTE',
      'and LDAP_POP3_ATTRIBUTE (one attribute per protocol), or LDAP_PROTOCOLS_ATTRIBUTE, are required',
    );
  }
  const imap = attribute(env, 'LDAP_IMAP_ATTRIBUTE');
  const pop3 = attribute(env, 'LDAP_POP3_ATTRIBUTE');
  const trueValue = listValue(env, 'LDAP_TRUE_VALUE', 'TRUE');
  const falseValue = listValue(env, 'LDAP_FALSE_VALUE', 'FALSE');
  if (trueValue.toLowerCase() === falseValue.toLowerCase()) {
    throw new LdapSettingsError('LDAP_FALSE_VALUE', 'must differ from LDAP_TRUE_VALUE');
  }
  return { mode: 'attributes', attributes: { imap, pop3 }, trueValue, falseValue };
}

function parseDoveadm(env: Env): DoveadmOptions | undefined {
  const url = env.DOVEADM_URL;
  if (url === undefined || url === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LdapSettingsError('DOVEADM_URL', 'is not a URL');
  }
  if (!/^https?:$/.test(parsed.protocol) || parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new LdapSettingsError('DOVEADM_URL', 'must be an http(s) URL without credentials, query or fragment');
  }
  const apiKey = env.DOVEADM_API_KEY ?? '';
  if (apiKey.length === 0 || /[\r\n]/.test(apiKey)) {
    throw new LdapSettingsError('DOVEADM_API_KEY', 'is required (one line) when DOVEADM_URL is set');
  }
  return {
    url: parsed.toString().replace(/\/$/, ''),
    apiKey,
    timeoutMs: integer(env, 'DOVEADM_TIMEOUT_MS', 5_000, 100, 60_000),
  };
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new LdapSettingsError(name, 'is required');
  return value;
}

function dn(env: Env, name: string): string {
  const value = required(env, name);
  // A DN is RDNs separated by commas, each `attr=value`; ldapts escapes nothing for us in a base DN.
  if (/[\r\n\0]/.test(value) || !/^[^=,]+=[^,]*(?:,[^=,]+=[^,]*)*$/.test(value.replace(/\\./g, '_'))) {
    throw new LdapSettingsError(name, 'is not a distinguished name (attr=value,attr=value…)');
  }
  return value;
}

function attribute(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim() || fallback;
  if (value === undefined) throw new LdapSettingsError(name, 'is required');
  if (!ATTRIBUTE.test(value)) throw new LdapSettingsError(name, 'is not an LDAP attribute name');
  return value;
}

function listValue(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim() || fallback;
  if (!LIST_VALUE.test(value)) throw new LdapSettingsError(name, 'must be 1-64 printable ASCII characters');
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new LdapSettingsError(name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function parseFilter(text: string): Filter {
  try {
    if (!balanced(text.trim())) throw new Error('parentheses do not balance');
    return FilterParser.parseString(text.trim());
  } catch {
    throw new LdapSettingsError('LDAP_FILTER', 'is not an LDAP filter (RFC 4515), e.g. (objectClass=inetOrgPerson)');
  }
}

/** One parenthesised filter whose parentheses balance (ldapts' parser accepts a missing closing one). */
function balanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0 && i !== text.length - 1) return false;
    if (depth < 0) return false;
  }
  return depth === 0 && text.startsWith('(');
}
