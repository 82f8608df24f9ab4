/**
 * What a reader without access to accounts (the viewer role: wall dashboards, the incident room) may see of a
 * wave: everything but e-mail addresses. An explicit list of logins becomes its count; any address elsewhere
 * (an engine detail such as a propagation check's mismatches, a name or description ops wrote) is replaced.
 */

/** Stands in for an address a reader may not see (the surrounding shape is kept: counts stay countable). */
export const HIDDEN_ADDRESS = '[address hidden]';

// What ends an address on either side. Anything@anything between them is hidden: wider than a valid login on
// purpose (a detail may quote a bad one).
const SEPARATORS = new Set([...' \t\r\n"\'<>()[]{},;:\\@']);

/** Every address in a text replaced, in one pass (a regular expression would backtrack on crafted input). */
function hideInText(text: string): string {
  let out = '';
  let copied = 0;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > copied && !SEPARATORS.has(text[start - 1])) start--;
    let end = at + 1;
    while (end < text.length && !SEPARATORS.has(text[end])) end++;
    while (end > at + 1 && text[end - 1] === '.') end--; // a sentence's full stop is not part of the address
    if (start === at || end === at + 1) continue;
    out += text.slice(copied, start) + HIDDEN_ADDRESS;
    copied = end;
    at = end - 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** A wave selector as readers see it: the kind, the cohorts, and for an explicit list how many logins it names. */
export interface SelectorView {
  type: string;
  cohorts?: string[];
  /** Only for readers allowed to see addresses. */
  logins?: string[];
  /** type logins: how many logins the list names. */
  loginCount?: number;
}

export function selectorView(
  selector: { type: string; cohorts?: string[]; logins?: string[] },
  showAddresses: boolean,
): SelectorView {
  const { logins, ...rest } = selector;
  if (!logins) return { ...rest };
  return showAddresses ? { ...rest, logins, loginCount: logins.length } : { ...rest, loginCount: logins.length };
}

/**
 * The value with every e-mail address in its strings replaced by HIDDEN_ADDRESS, at any depth of arrays and plain
 * objects (other objects, such as Dates, are kept). Returns the value itself when it holds no address, so a caller
 * can tell "nothing to hide" by identity and reuse what it already serialized.
 */
export function hideAddresses<T>(value: T): T {
  if (typeof value === 'string') {
    return (value.includes('@') ? hideInText(value) : value) as T;
  }
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item: unknown) => {
      const hidden = hideAddresses(item);
      changed ||= hidden !== item;
      return hidden;
    });
    return (changed ? out : value) as T;
  }
  if (isPlainObject(value)) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const hidden = hideAddresses(item);
      let name = hideAddresses(key);
      // Objects keyed by login keep one entry per login: the count must survive.
      for (let n = 2; name !== key && Object.hasOwn(out, name); n++) name = `${hideAddresses(key)} (${n})`;
      changed ||= hidden !== item || name !== key;
      // defineProperty: a key named __proto__ (JSON may hold one) stays a key.
      Object.defineProperty(out, name, { value: hidden, enumerable: true, writable: true, configurable: true });
    }
    return (changed ? out : value) as T;
  }
  return value;
}

/** A field change (`{ field, before, after }`, approvals' diffs) of a login or a list of them. */
const LOGIN_FIELD = /(^|\.)logins?(\[\d+\])?$/;

/**
 * Any view as a reader who may not see addresses reads it, where a login may sit under a known name (an approval
 * request's plan and input, its diffs, a support override's account): an explicit list (`logins`) becomes its count
 * (`loginCount`), a `login` reads HIDDEN_ADDRESS (a login need not be an address), both sides of a field change of a
 * login are hidden, and any address left in a string is hidden (hideAddresses). Shapes, counts and Dates are kept.
 */
export function hideLogins<T>(value: T): T {
  return hideAddresses(withoutLogins(value) as T);
}

function withoutLogins(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutLogins);
  if (!isPlainObject(value)) return value;
  const change = typeof value.field === 'string' && LOGIN_FIELD.test(value.field);
  const out: Record<string, unknown> = {};
  const put = (name: string, item: unknown) =>
    Object.defineProperty(out, name, { value: item, enumerable: true, writable: true, configurable: true });
  for (const [key, item] of Object.entries(value)) {
    if (key === 'logins' && Array.isArray(item)) put('loginCount', item.length);
    else if (key === 'login' && typeof item === 'string') put(key, HIDDEN_ADDRESS);
    else if (change && (key === 'before' || key === 'after')) put(key, hideEveryString(item));
    else put(key, withoutLogins(item));
  }
  return out;
}

function hideEveryString(value: unknown): unknown {
  if (typeof value === 'string') return HIDDEN_ADDRESS;
  return Array.isArray(value) ? value.map(hideEveryString) : value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
