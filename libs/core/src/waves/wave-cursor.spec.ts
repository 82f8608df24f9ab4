import { decodeCursor } from './wave-query.service';

const id = '0b6c9a8e-54f1-4c1f-9d0e-4c3a2b1a0f9e';
const encode = (s: string) => Buffer.from(s).toString('base64url');

describe('decodeCursor', () => {
  it('reads a cursor the service made', () => {
    expect(decodeCursor(encode(`2026-05-09T08:00:00.123Z|${id}`))).toEqual({
      at: new Date('2026-05-09T08:00:00.123Z'),
      id,
    });
  });

  it.each([
    ['a date PostgreSQL cannot hold', encode(`-271821-04-20T00:00:00.000Z|${id}`)],
    ['a year past 9999', encode(`+275760-09-13T00:00:00.000Z|${id}`)],
    ['a date that does not exist', encode(`2026-02-30T00:00:00.000Z|${id}`)],
    ['a date without milliseconds', encode(`2026-05-09T08:00:00Z|${id}`)],
    ['a loose date', encode(`1|${id}`)],
    ['a third part', encode(`2026-05-09T08:00:00.000Z|${id}|x`)],
    ['no id', encode('2026-05-09T08:00:00.000Z|')],
    ['not base64url', `${encode(`2026-05-09T08:00:00.000Z|${id}`)}*`],
    ['padding', `${encode(`2026-05-09T08:00:00.00Z|${id}`)}==`],
    ['garbage', 'zzz'],
    ['empty', ''],
  ])('refuses %s', (_what, cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });
});
