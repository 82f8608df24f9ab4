import { AndFilter, EqualityFilter, OrFilter, type Client, type Entry, type Filter } from 'ldapts';
import { attributesToRead, loginsOf, readEntry, type EntryState } from './ldap-entry';
import type { LdapMailstoreOptions } from './ldap.options';

/** What the directory holds for one login: its entry's state, nothing, or an entry the driver cannot use. */
export type Found =
  { kind: 'found'; state: EntryState } | { kind: 'missing' } | { kind: 'invalid'; code: string; detail: string };

/**
 * One search for every login of a batch (the base filter ANDed with an OR of the logins, at most two entries a login
 * asked, so a login held by two entries is seen), the entries found by the login as the caller spelled it.
 */
export async function searchAccounts(
  client: Client,
  accounts: readonly string[],
  o: LdapMailstoreOptions,
  baseFilter: Filter,
): Promise<Map<string, Found>> {
  const logins = accounts.map((account) => new EqualityFilter({ attribute: o.loginAttribute, value: account }));
  const { searchEntries } = await client.search(o.baseDn, {
    scope: 'sub',
    filter: new AndFilter({
      filters: [baseFilter, logins.length === 1 ? logins[0] : new OrFilter({ filters: logins })],
    }),
    attributes: attributesToRead(o),
    sizeLimit: accounts.length * 2 + 1,
  });
  return matchEntries(accounts, searchEntries, o);
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
