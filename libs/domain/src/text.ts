/**
 * Text the service can store and send on: PostgreSQL `text` cannot hold U+0000, and a lone UTF-16 surrogate has no
 * UTF-8 form (the driver would send invalid bytes, or a replacement character would silently change the value).
 * One rule for every way text arrives: JSON bodies, query strings, path parameters and the CSV import.
 */

/** Why a string cannot be stored as it is, as the end of a sentence that starts with the field name; null if it can. */
export function textFault(value: string): string | null {
  const nul = value.indexOf('\u0000');
  if (nul !== -1) return `must not contain a NUL character (U+0000, at position ${nul})`;
  const surrogate = loneSurrogateAt(value);
  if (surrogate !== -1) return `must be valid Unicode text (lone surrogate at position ${surrogate})`;
  return null;
}

/** Position of the first unpaired surrogate (the check String.prototype.isWellFormed makes in ES2024), or -1. */
export function loneSurrogateAt(value: string): number {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < value.length) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
    }
    return i;
  }
  return -1;
}

/**
 * decodeURIComponent that answers null instead of throwing: a malformed escape (`%zz`), bytes that are not UTF-8
 * (`%FF`), an overlong form (`%C0%AF`, a smuggled `/`) or an encoded surrogate (`%ED%A0%80`).
 */
export function decodeUriComponentStrict(value: string): string | null {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}
