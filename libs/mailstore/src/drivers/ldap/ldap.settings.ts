import { readFileSync } from 'node:fs';
import { IsDefined, IsIn, IsOptional, Matches, ValidateBy, type ValidationArguments } from 'class-validator';
import type * as Ldapts from 'ldapts';
import { IntegerFrom } from '@app/config';
import { DoveadmSettings } from '../doveadm.settings';
import { SwitchLayoutHolds } from '../switch-layout';

// RFC 4512 §2.5 attribute description: a name (letter, then letters, digits, hyphens) or a numeric OID.
const ATTRIBUTE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)$/;
// A value the driver writes (a Boolean, a protocol of the list), compared by the attribute's matching rule.
const VALUE = /^[\x21-\x7e]{1,64}$/;

const attributeName = (name: string) => Matches(ATTRIBUTE, { message: `${name} is not an LDAP attribute name` });
const value = (name: string) => Matches(VALUE, { message: `${name} must be 1-64 printable ASCII characters` });

/** A check of the whole object, named after the decorated variable: `problem` says what is wrong, or nothing. */
function Holds(name: string, problem: (o: LdapSettings) => string | undefined): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (_value, args) => !args || problem(args.object as LdapSettings) === undefined,
      defaultMessage: (args?: ValidationArguments) => (args && problem(args.object as LdapSettings)) ?? name,
    },
  });
}

/** A DN is RDNs separated by commas, each `attr=value` (escaped characters allowed); ldapts escapes no base DN. */
function isDn(text: unknown): boolean {
  return (
    typeof text === 'string' &&
    !/[\r\n\0]/.test(text) &&
    /^[^=,]+=[^,]*(?:,[^=,]+=[^,]*)*$/.test(text.trim().replace(/\\./g, '_'))
  );
}
const Dn = (name: string) =>
  ValidateBy({
    name: 'ldapDn',
    validator: { validate: isDn, defaultMessage: () => `${name} is not a distinguished name (attr=value,attr=value…)` },
  });

/**
 * An RFC 4515 filter as the driver will use it: parsed by ldapts' own parser (loaded here only when the ldap driver is
 * chosen: the worker loads it then anyway), after a check that its parentheses balance, which that parser does not make.
 */
function isLdapFilter(text: unknown): boolean {
  if (typeof text !== 'string' || !balanced(text.trim())) return false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- ldapts only when MAILSTORE_DRIVER=ldap
    (require('ldapts') as typeof Ldapts).FilterParser.parseString(text.trim());
    return true;
  } catch {
    return false;
  }
}

function balanced(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')' && --depth === 0 && i !== text.length - 1) return false;
    if (depth < 0) return false;
  }
  return depth === 0 && text.startsWith('(');
}

/** What is wrong with LDAP_CA_FILE's file, or nothing: it must be readable and hold a PEM certificate. */
function caFileProblem(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return `LDAP_CA_FILE cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}): ${path}`;
  }
  return text.includes('-----BEGIN CERTIFICATE-----')
    ? undefined
    : `LDAP_CA_FILE holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${path}`;
}

/** The version must move only with the switches: it cannot be the login or a switch itself. */
function sharedAttributeProblem(o: LdapSettings): string | undefined {
  const named = [o.LDAP_LOGIN_ATTRIBUTE, o.LDAP_VERSION_ATTRIBUTE, o.LDAP_IMAP_ATTRIBUTE, o.LDAP_POP3_ATTRIBUTE]
    .concat(o.LDAP_PROTOCOLS_ATTRIBUTE)
    .filter((a): a is string => a !== undefined)
    .map((a) => a.toLowerCase());
  return new Set(named).size === named.length
    ? undefined
    : 'LDAP_VERSION_ATTRIBUTE, LDAP_LOGIN_ATTRIBUTE and the switch attributes must be different attributes';
}

/**
 * The settings of the `ldap` mailstore driver (MAILSTORE_DRIVER=ldap; docs/drivers-ldap.md, deploy/dovecot-ldap/),
 * read and checked at boot when that driver is chosen: a bad value is named in the one startup-failure line, never the
 * password. ldap.driver.ts maps them to the driver's options.
 */
export class LdapSettings extends DoveadmSettings {
  /** The directory: ldap://host[:port] or ldaps://host[:port]. */
  @Matches(/^ldaps?:\/\/[^/\s?#]+\/?$/i, { message: 'LDAP_URL must be ldap://host[:port] or ldaps://host[:port]' })
  @IsDefined({ message: 'LDAP_URL is required with MAILSTORE_DRIVER=ldap' })
  LDAP_URL: string | undefined = undefined;

  /**
   * ldap:// only: each connection is upgraded with StartTLS before it binds, so the service DN's password never
   * crosses the network in clear (ldaps:// is TLS from the first byte).
   */
  @Holds('ldapStartTls', (o) =>
    o.LDAP_STARTTLS === 'true' && /^ldaps:/i.test(o.LDAP_URL ?? '')
      ? 'LDAP_STARTTLS is for an ldap:// URL: an ldaps:// one is TLS already'
      : undefined,
  )
  @IsIn(['true', 'false'], { message: 'LDAP_STARTTLS must be true or false' })
  LDAP_STARTTLS = 'false';

  /**
   * The CA certificate(s), PEM, that signed the directory's certificate (ldaps:// or LDAP_STARTTLS): a private CA.
   * Unset: Node's bundled public CAs. Read once at boot.
   */
  @IsOptional()
  @ValidateBy({
    name: 'ldapCaFile',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && caFileProblem(v) === undefined,
      defaultMessage: (args?: ValidationArguments) => caFileProblem(String(args?.value)) ?? 'LDAP_CA_FILE',
    },
  })
  LDAP_CA_FILE: string | undefined = undefined;

  /** The service DN the driver binds as (docs/drivers-ldap.md: the access it needs). */
  @Dn('LDAP_BIND_DN')
  @IsDefined({ message: 'LDAP_BIND_DN is required with MAILSTORE_DRIVER=ldap' })
  LDAP_BIND_DN: string | undefined = undefined;

  /** Its password. Never logged, never in a message. */
  @IsDefined({ message: 'LDAP_BIND_PASSWORD is required with MAILSTORE_DRIVER=ldap' })
  LDAP_BIND_PASSWORD: string | undefined = undefined;

  /** Accounts are searched under it (subtree). */
  @Dn('LDAP_BASE_DN')
  @IsDefined({ message: 'LDAP_BASE_DN is required with MAILSTORE_DRIVER=ldap' })
  LDAP_BASE_DN: string | undefined = undefined;

  /** The attribute holding the login the service knows (uid, mail …). */
  @attributeName('LDAP_LOGIN_ATTRIBUTE')
  LDAP_LOGIN_ATTRIBUTE = 'uid';

  /** ANDed with the login, e.g. (objectClass=reopenAccessAccount). */
  @ValidateBy({
    name: 'ldapFilter',
    validator: {
      validate: isLdapFilter,
      defaultMessage: () => 'LDAP_FILTER is not an LDAP filter (RFC 4515), e.g. (objectClass=inetOrgPerson)',
    },
  })
  LDAP_FILTER = '(objectClass=*)';

  /** One attribute per protocol, on when it holds LDAP_TRUE_VALUE… */
  @SwitchLayoutHolds({
    driver: 'ldap',
    imap: 'LDAP_IMAP_ATTRIBUTE',
    pop3: 'LDAP_POP3_ATTRIBUTE',
    list: 'LDAP_PROTOCOLS_ATTRIBUTE',
    unit: 'attribute',
    listing: '(one multi-valued attribute of allowed protocols)',
  })
  @ValidateBy({
    name: 'ldapAttribute',
    validator: {
      validate: (v: unknown) => v === undefined || (typeof v === 'string' && ATTRIBUTE.test(v)),
      defaultMessage: () => 'LDAP_IMAP_ATTRIBUTE is not an LDAP attribute name',
    },
  })
  LDAP_IMAP_ATTRIBUTE: string | undefined = undefined;

  @IsOptional()
  @attributeName('LDAP_POP3_ATTRIBUTE')
  LDAP_POP3_ATTRIBUTE: string | undefined = undefined;

  /** What the driver writes in them (LDAP Boolean syntax by default). */
  @value('LDAP_TRUE_VALUE')
  LDAP_TRUE_VALUE = 'TRUE';

  @Holds('ldapFalseValue', (o) =>
    o.LDAP_FALSE_VALUE.toLowerCase() === o.LDAP_TRUE_VALUE.toLowerCase()
      ? 'LDAP_FALSE_VALUE must differ from LDAP_TRUE_VALUE'
      : undefined,
  )
  @value('LDAP_FALSE_VALUE')
  LDAP_FALSE_VALUE = 'FALSE';

  /** …or one multi-valued attribute of allowed protocols (its other values are left alone)… */
  @IsOptional()
  @attributeName('LDAP_PROTOCOLS_ATTRIBUTE')
  LDAP_PROTOCOLS_ATTRIBUTE: string | undefined = undefined;

  /** …holding these values. */
  @value('LDAP_IMAP_VALUE')
  LDAP_IMAP_VALUE = 'imap';

  @value('LDAP_POP3_VALUE')
  LDAP_POP3_VALUE = 'pop3';

  /** An integer attribute the driver raises by one with each change it makes: the version ifVersion checks. */
  @Holds('ldapSharedAttribute', sharedAttributeProblem)
  @attributeName('LDAP_VERSION_ATTRIBUTE')
  @IsDefined({ message: 'LDAP_VERSION_ATTRIBUTE is required with MAILSTORE_DRIVER=ldap' })
  LDAP_VERSION_ATTRIBUTE: string | undefined = undefined;

  /** Connections to the directory, each bound as LDAP_BIND_DN. */
  @IntegerFrom(1, 64)
  LDAP_POOL_SIZE = 4;

  /** Per LDAP operation… */
  @IntegerFrom(100, 120000)
  LDAP_TIMEOUT_MS = 5000;

  /** …and per connection attempt. */
  @IntegerFrom(100, 60000)
  LDAP_CONNECT_TIMEOUT_MS = 2000;

  /** Items per batch (one search, then one modify per changed account, pipelined on one connection). */
  @IntegerFrom(1, 5000)
  LDAP_MAX_BATCH_ITEMS = 500;

  /** Advertised in the capabilities: the engine's shared throttle paces writes to it. */
  @IntegerFrom(1, 1000000)
  LDAP_UPDATES_PER_SECOND = 1000;
}
