import type { BatchItem, BatchItemResult } from '../../mailstore.types';

/** Both switches as the passdb reads them. */
export interface Switches {
  imap: boolean;
  pop3: boolean;
}

/** One account's row as the driver read it (under `FOR UPDATE` when writing). */
export interface FlagRow extends Switches {
  /** The login as the table spells it. */
  login: string;
  version: number;
  /** List layout: the column's text, kept so other protocol names in it survive a write. */
  list?: string | null;
}

/**
 * What one batch item comes to, decided from the row locked before the write. The one home of the rule, for both
 * databases and both layouts: desired state (never a toggle, so a replay is `unchanged`), `ifVersion` honoured per
 * item (a `conflict` keeps the other writer's change), unknown logins `not_found`.
 */
export type ItemDecision =
  | { status: 'invalid'; code: 'duplicate_account' | 'ambiguous_account'; detail: string }
  | { status: 'not_found' }
  | { status: 'conflict'; current: FlagRow; expected: number }
  | { status: 'unchanged'; current: FlagRow }
  | { status: 'applied'; previous: FlagRow; next: Switches };

export function decideItem(item: BatchItem, rows: readonly FlagRow[]): ItemDecision {
  if (rows.length === 0) return { status: 'not_found' };
  if (rows.length > 1) {
    return { status: 'invalid', code: 'ambiguous_account', detail: `${rows.length} rows have this login` };
  }
  const row = rows[0];
  if (item.ifVersion !== undefined && item.ifVersion !== row.version) {
    return { status: 'conflict', current: row, expected: item.ifVersion };
  }
  // Only the protocols the item names are touched.
  const next: Switches = { imap: item.protocols.imap ?? row.imap, pop3: item.protocols.pop3 ?? row.pop3 };
  if (next.imap === row.imap && next.pop3 === row.pop3) return { status: 'unchanged', current: row };
  return { status: 'applied', previous: row, next };
}

/** Index of each item's first occurrence; later occurrences of one account are `duplicate_account` (contract §3). */
export function firstOccurrences(items: readonly BatchItem[]): Map<string, number> {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (!first.has(item.account)) first.set(item.account, i);
  });
  return first;
}

/**
 * Without a version column an account's version is a fingerprint of its switches (1–4): `ifVersion` still refuses
 * to clobber a change made since, except one that was undone again (A → B → A).
 */
export function fingerprintVersion(s: Switches): number {
  return 1 + (s.imap ? 1 : 0) + (s.pop3 ? 2 : 0);
}

/** The batch item's answer, in the contract's shape (`sessions` is added by the kick: session-kicks.ts). */
export function itemResult(
  account: string,
  d: ItemDecision,
  written: { version: number; updatedAt: string } | undefined,
  readAt: string,
): BatchItemResult {
  switch (d.status) {
    case 'invalid':
      return { account, status: 'invalid', error: { code: d.code, detail: d.detail } };
    case 'not_found':
      return {
        account,
        status: 'not_found',
        error: { code: 'account_not_found', detail: 'no row has this login' },
      };
    case 'conflict':
      return {
        account,
        status: 'conflict',
        protocols: switches(d.current),
        version: d.current.version,
        updatedAt: readAt,
        error: {
          code: 'version_mismatch',
          detail: `ifVersion ${d.expected} does not match the current version ${d.current.version}`,
        },
      };
    case 'unchanged':
      return {
        account,
        status: 'unchanged',
        protocols: switches(d.current),
        previous: switches(d.current),
        version: d.current.version,
        updatedAt: readAt,
      };
    case 'applied':
      return {
        account,
        status: 'applied',
        protocols: { ...d.next },
        previous: switches(d.previous),
        version: written?.version ?? d.previous.version,
        updatedAt: written?.updatedAt ?? readAt,
      };
  }
}

function switches(s: Switches): Switches {
  return { imap: s.imap, pop3: s.pop3 };
}

/** The names this driver switches in a list column; matched case-insensitively. */
const PROTOCOL_NAMES = ['imap', 'pop3'] as const;
const LIST_SEPARATOR = /[\s,]+/;

/** `'imap, smtp'` → imap on, pop3 off. NULL or empty: nothing allowed. */
export function parseProtocolList(list: string | null | undefined): Switches {
  const names = new Set(
    (list ?? '')
      .split(LIST_SEPARATOR)
      .filter((n) => n !== '')
      .map((n) => n.toLowerCase()),
  );
  return { imap: names.has('imap'), pop3: names.has('pop3') };
}

/**
 * The list column's new text: other names (`smtp`, `sieve` …) kept in their order and spelling, then `imap` and
 * `pop3` when on; comma-separated (what the example passdb query splits on, see deploy/dovecot/).
 */
export function formatProtocolList(list: string | null | undefined, next: Switches): string {
  const others = (list ?? '')
    .split(LIST_SEPARATOR)
    .filter((n) => n !== '' && !(PROTOCOL_NAMES as readonly string[]).includes(n.toLowerCase()));
  return [...others, ...PROTOCOL_NAMES.filter((p) => next[p])].join(',');
}
