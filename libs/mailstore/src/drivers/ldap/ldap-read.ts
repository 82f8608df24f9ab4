import { AndFilter, EqualityFilter, OrFilter, ResultCodeError, type Client, type Entry, type Filter } from 'ldapts';
import { attributesToRead, loginsOf, readEntry, type EntryState } from './ldap-entry';
import type { LdapMailstoreOptions } from './ldap.options';

/** What the directory holds for one login: its entry's state, nothing, or an entry the driver cannot use. */
export type Found =
  { kind: 'found'; state: EntryState } | { kind: 'missing' } | { kind: 'invalid'; code: string; detail: string };

/** LDAP result sizeLimitExceeded: the directory has more entries for the search than it returns to the service DN. */
const SIZE_LIMIT_EXCEEDED = 4;

/**
 * The entries of every login of a batch: one search (the base filter ANDed with an OR of the logins, so a login held
 * by two entries is seen), matched back to the logins as the caller spelled them.
 *
 * No client size limit: with one, ldapts returns the entries the directory sent before its own limit as a complete
 * answer (OpenLDAP's default `sizelimit` is 500, Active Directory's MaxPageSize 1000), and the logins cut off would be
 * `not_found` while their entries exist (a rollback would record them failed and leave them open). Without one, a
 * directory that has more entries than it returns refuses the search (sizeLimitExceeded): the logins are then asked
 * in halves, down to one login per search.
 */
export async function searchAccounts(
  client: Client,
  accounts: readonly string[],
  o: LdapMailstoreOptions,
  baseFilter: Filter,
): Promise<Map<string, Found>> {
  try {
    return matchEntries(accounts, await searchEntriesOf(client, accounts, o, baseFilter), o);
  } catch (err) {
    if (!(err instanceof ResultCodeError && err.code === SIZE_LIMIT_EXCEEDED) || accounts.length < 2) throw err;
    const half = Math.ceil(accounts.length / 2);
    const first = await searchAccounts(client, accounts.slice(0, half), o, baseFilter);
    const second = await searchAccounts(client, accounts.slice(half), o, baseFilter);
    return new Map([...first, ...second]);
  }
}

async function searchEntriesOf(
  client: Client,
  accounts: readonly string[],
  o: LdapMailstoreOptions,
  baseFilter: Filter,
): Promise<Entry[]> {
  const logins = accounts.map((account) => new EqualityFilter({ attribute: o.loginAttribute, value: account }));
  const { searchEntries } = await client.search(o.baseDn, {
    scope: 'sub',
    filter: new AndFilter({
      filters: [baseFilter, logins.length === 1 ? logins[0] : new OrFilter({ filters: logins })],
    }),
    attributes: attributesToRead(o),
  });
  return searchEntries;
}

/** Entries matched back to the accounts asked for (the directory's login match ignores case). */
function matchEntries(
  accounts: readonly string[],
  entries: readonly Entry[],
  o: LdapMailstoreOptions,
): Map<string, Found> {
  const byLogin = new Map<string, Entry[]>();
  for (const entry of entries) {
    for (const login of loginsOf(entry, o)) {
      const key = login.toLowerCase();
      byLogin.set(key, [...(byLogin.get(key) ?? []), entry]);
    }
  }
  const out = new Map<string, Found>();
  for (const account of accounts) {
    const matches = byLogin.get(account.toLowerCase()) ?? [];
    if (matches.length === 0) {
      out.set(account, { kind: 'missing' });
    } else if (matches.length > 1) {
      out.set(account, {
        kind: 'invalid',
        code: 'ambiguous_account',
        detail: `${matches.length} entries have this login`,
      });
    } else {
      const read = readEntry(matches[0], o);
      out.set(
        account,
        read.ok
          ? { kind: 'found', state: read.state }
          : { kind: 'invalid', code: 'invalid_entry', detail: read.reason },
      );
    }
  }
  return out;
}
