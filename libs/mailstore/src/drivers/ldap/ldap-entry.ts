import {
  AndFilter,
  Attribute,
  Change,
  EqualityFilter,
  NotFilter,
  PresenceFilter,
  type Entry,
  type Filter,
} from 'ldapts';
import type { Protocol, ProtocolSwitches } from '../../mailstore.types';
import { switchAttributes, type LdapMailstoreOptions } from './ldap.options';

export const PROTOCOLS: readonly Protocol[] = ['imap', 'pop3'];

/** What the driver reads from an account's entry: its switches, its version and when it last changed. */
export interface EntryState {
  dn: string;
  protocols: Record<Protocol, boolean>;
  /** The version attribute's value; 0 while the driver has never written the entry. */
  version: number;
  /**
   * Whether the entry has the version attribute: an entry given `0` by hand (the attribute added to every account
   * with a starting value) has it, and only an assertion that it equals 0 holds for it, not one that it is absent.
   */
  versionPresent: boolean;
  updatedAt: string;
}

/** The modify that takes an entry from `state` to the desired switches, and the assertion that guards it. */
export interface PlannedWrite {
  changes: Change[];
  /**
   * RFC 4528 assertion: the modify applies only if the entry still holds exactly the state read (version and every
   * switch), so a change made between our read and our write is caught, not overwritten.
   */
  assertion: Filter;
  protocols: Record<Protocol, boolean>;
  version: number;
}

type Options = Pick<LdapMailstoreOptions, 'switches' | 'versionAttribute' | 'loginAttribute'>;

/** The attributes to ask for when reading accounts. */
export function attributesToRead(o: Options): string[] {
  return [o.loginAttribute, ...switchAttributes(o.switches), o.versionAttribute, 'modifyTimestamp'];
}

/** The state of one entry, or why it cannot be used (a version that is not a non-negative integer). */
export function readEntry(entry: Entry, o: Options): { ok: true; state: EntryState } | { ok: false; reason: string } {
  const versionValues = values(entry, o.versionAttribute);
  if (versionValues.length > 1 || (versionValues.length === 1 && !/^\d{1,15}$/.test(versionValues[0]))) {
    return { ok: false, reason: `${o.versionAttribute} is not one non-negative integer` };
  }
  const protocols = {} as Record<Protocol, boolean>;
  for (const p of PROTOCOLS) protocols[p] = isOn(entry, p, o);
  return {
    ok: true,
    state: {
      dn: entry.dn,
      protocols,
      version: versionValues.length === 0 ? 0 : Number(versionValues[0]),
      versionPresent: versionValues.length > 0,
      updatedAt: generalizedTimeToIso(values(entry, 'modifyTimestamp')[0]),
    },
  };
}

/** The login value(s) of an entry, as the directory spells them. */
export function loginsOf(entry: Entry, o: Options): string[] {
  return values(entry, o.loginAttribute);
}

/**
 * The desired state applied to `state`: undefined when nothing changes (a replay is `unchanged`), else the changes
 * (desired values, never a toggle; the version raised by one) and the assertion of the state read. Only the
 * protocols named in `desired` are touched.
 */
export function planWrite(state: EntryState, desired: ProtocolSwitches, o: Options): PlannedWrite | undefined {
  const next = { ...state.protocols };
  const changes: Change[] = [];
  for (const p of PROTOCOLS) {
    const want = desired[p];
    if (want === undefined || want === state.protocols[p]) continue;
    next[p] = want;
    changes.push(switchChange(p, want, o));
  }
  if (changes.length === 0) return undefined;
  const version = state.version + 1;
  changes.push(replace(o.versionAttribute, String(version)));
  return { changes, assertion: assertionOf(state, o), protocols: next, version };
}

function assertionOf(state: EntryState, o: Options): Filter {
  const filters: Filter[] = [
    !state.versionPresent
      ? new NotFilter({ filter: new PresenceFilter({ attribute: o.versionAttribute }) })
      : new EqualityFilter({ attribute: o.versionAttribute, value: String(state.version) }),
  ];
  for (const p of PROTOCOLS) {
    const on = onFilter(p, o);
    filters.push(state.protocols[p] ? on : new NotFilter({ filter: on }));
  }
  return new AndFilter({ filters });
}

function onFilter(p: Protocol, o: Options): Filter {
  const s = o.switches;
  return s.mode === 'attributes'
    ? new EqualityFilter({ attribute: s.attributes[p], value: s.trueValue })
    : new EqualityFilter({ attribute: s.attribute, value: s.values[p] });
}

function switchChange(p: Protocol, on: boolean, o: Options): Change {
  const s = o.switches;
  if (s.mode === 'attributes') return replace(s.attributes[p], on ? s.trueValue : s.falseValue);
  // Value by value, so the other values of a shared list (smtp, sieve …) are left as they are.
  return new Change({
    operation: on ? 'add' : 'delete',
    modification: new Attribute({ type: s.attribute, values: [s.values[p]] }),
  });
}

function replace(type: string, value: string): Change {
  return new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });
}

function isOn(entry: Entry, p: Protocol, o: Options): boolean {
  const s = o.switches;
  // Compared without case, as booleanMatch and the case-ignoring matching rules of such attributes do.
  if (s.mode === 'attributes') {
    return values(entry, s.attributes[p]).some((v) => v.toLowerCase() === s.trueValue.toLowerCase());
  }
  return values(entry, s.attribute).some((v) => v.toLowerCase() === s.values[p].toLowerCase());
}

/** An attribute's values, found without regard to case (servers answer with the schema's spelling). */
function values(entry: Entry, attribute: string): string[] {
  const wanted = attribute.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key === 'dn' || key.toLowerCase() !== wanted) continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  }
  return [];
}

/** `20261206113340Z` (or with fractions) → ISO-8601; the epoch when the server gave none. */
function generalizedTimeToIso(value: string | undefined): string {
  const m = value === undefined ? null : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:[.,](\d+))?Z$/.exec(value);
  if (!m) return new Date(0).toISOString();
  const ms = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms)).toISOString();
}
