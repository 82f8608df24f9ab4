import { assertNever, Protocol, protocolsOffSql } from '@app/domain';
import { WaveSelectorJson } from '@app/db';
import { AddParam } from '../db/sql-params';

/**
 * Who a wave's selector takes, as a condition over an `accounts` row aliased `a`: the one statement of it, for the
 * start that freezes the membership and the preview that counts what the start would freeze.
 */
export function selectorWhereSql(selector: WaveSelectorJson, protocols: readonly Protocol[], add: AddParam): string {
  switch (selector.type) {
    case 'cohorts':
      return `a.cohorts && ${add(selector.cohorts)}::text[]`;
    case 'logins':
      // Logins are stored in lower case (accounts_login_lower).
      return `a.login = ANY(${add(selector.logins.map((l) => l.toLowerCase()))}::text[])`;
    case 'remaining':
      return protocolsOffSql(protocols);
    default:
      return assertNever(selector, 'selector');
  }
}
