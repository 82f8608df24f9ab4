import type { BatchItem, BatchItemResult, Protocol } from '../../mailstore.types';
import { PROTOCOLS } from './ldap-entry';

/** The contract's item checks: an account once, known protocols as booleans, a non-negative integer ifVersion. */
export function invalidItem(item: BatchItem, items: readonly BatchItem[], i: number): BatchItemResult | undefined {
  const account = item.account;
  const bad = (code: string, detail: string): BatchItemResult => ({
    account,
    status: 'invalid',
    error: { code, detail },
  });
  if (typeof account !== 'string' || account.length === 0 || account.length > 320)
    return bad('invalid_account', 'account must be 1-320 characters');
  if (items.findIndex((other) => other.account.toLowerCase() === account.toLowerCase()) !== i) {
    return bad('duplicate_account', 'the account appears earlier in the batch');
  }
  const keys = Object.keys(item.protocols ?? {});
  if (keys.length === 0) return bad('invalid_protocols', 'no protocol given');
  for (const key of keys) {
    if (!(PROTOCOLS as readonly string[]).includes(key)) return bad('unsupported_protocol', `unknown protocol ${key}`);
    if (typeof item.protocols[key as Protocol] !== 'boolean')
      return bad('invalid_protocols', `${key} is not a boolean`);
  }
  if (item.ifVersion !== undefined && !(Number.isSafeInteger(item.ifVersion) && item.ifVersion >= 0)) {
    return bad('invalid_request', 'ifVersion is not a non-negative integer');
  }
  return undefined;
}
