import type { Protocol } from '../../mailstore.types';

/**
 * Where the per-protocol switches live on an account's entry:
 * - `attributes`: one attribute per protocol holding `trueValue` (on) or anything else / nothing (off);
 * - `list`: one multi-valued attribute holding the protocols the account may use (other values are left alone).
 */
type LdapSwitches =
  | { mode: 'attributes'; attributes: Record<Protocol, string>; trueValue: string; falseValue: string }
  | { mode: 'list'; attribute: string; values: Record<Protocol, string> };

/**
 * The ldap driver's options. They come from the LDAP_* and DOVEADM_* variables, checked at boot (ldap.settings.ts, the
 * one home of those rules) and mapped by ldap.driver.ts.
 */
export interface LdapMailstoreOptions {
  /** `ldap://host:port` or `ldaps://host:port`. */
  url: string;
  /** ldap:// upgraded with StartTLS before the bind. */
  startTls: boolean;
  /** PEM CA certificate(s) the directory's certificate must chain to (a private CA); Node's bundle when absent. */
  caPem?: string;
  bindDn: string;
  bindPassword: string;
  /** Accounts are searched under it (subtree). */
  baseDn: string;
  /** The attribute holding the login the engine knows (uid, mail …). */
  loginAttribute: string;
  /** An RFC 4515 filter ANDed with the login equality (e.g. `(objectClass=inetOrgPerson)`). */
  filter: string;
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
  /** Session revocation (`kick`) through doveadm's HTTP API (`http://127.0.0.1:8080`); none when absent. */
  doveadm?: { url: string; apiKey: string; timeoutMs: number };
}

/** The attributes a driver reads and writes for the switches. */
export function switchAttributes(switches: LdapSwitches): string[] {
  return switches.mode === 'attributes' ? Object.values(switches.attributes) : [switches.attribute];
}
