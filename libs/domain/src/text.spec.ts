import { decodeUriComponentStrict, loneSurrogateAt, textFault } from './text';

describe('textFault', () => {
  it.each([
    ['', null],
    ['plain ascii', null],
    ['zoë, 日本, tab\tand\nnewline', null],
    ['emoji 😀 is a surrogate pair', null],
    ['\u{10FFFF} last code point', null],
    ['a\u0000b', 'must not contain a NUL character (U+0000, at position 1)'],
    ['\u0000', 'must not contain a NUL character (U+0000, at position 0)'],
    ['a\ud800b', 'must be valid Unicode text (lone surrogate at position 1)'],
    ['x\ud800', 'must be valid Unicode text (lone surrogate at position 1)'],
    ['\udc00x', 'must be valid Unicode text (lone surrogate at position 0)'],
    ['😀\ude00', 'must be valid Unicode text (lone surrogate at position 2)'],
    ['\udbff\udbff\udc00', 'must be valid Unicode text (lone surrogate at position 0)'],
    // NUL is named first: it is the one PostgreSQL refuses outright.
    ['\ud800\u0000', 'must not contain a NUL character (U+0000, at position 1)'],
  ])('%j -> %p', (value, fault) => {
    expect(textFault(value)).toBe(fault);
  });

  it('agrees with String.prototype.isWellFormed on every pair of UTF-16 units around the surrogate range', () => {
    const units = [0x41, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000];
    const isWellFormed = (s: string) => (s as unknown as { isWellFormed(): boolean }).isWellFormed();
    for (const a of units) {
      for (const b of units) {
        for (const c of units) {
          const s = String.fromCharCode(a, b, c);
          expect(loneSurrogateAt(s) === -1).toBe(isWellFormed(s));
        }
      }
    }
  });
});

describe('decodeUriComponentStrict', () => {
  it.each([
    ['plain', 'plain'],
    ['a%20b', 'a b'],
    ['zo%C3%AB', 'zoë'],
    ['%00', '\u0000'],
    ['%F0%9F%98%80', '😀'],
    ['%FF', null],
    ['%C0%AF', null],
    ['%ED%A0%80', null],
    ['%E2%82', null],
    ['%zz', null],
    ['100%', null],
  ])('%p -> %p', (raw, decoded) => {
    expect(decodeUriComponentStrict(raw)).toBe(decoded);
  });
});
