import { LineTooLongError } from './account-import.types';
import { LineSplitter, splitLines } from './line-splitter';

async function collect(source: AsyncIterable<Buffer | string>, maxLineChars = 100): Promise<string[]> {
  const lines: string[] = [];
  for await (const batch of splitLines(source, { maxLineChars })) lines.push(...batch);
  return lines;
}

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

describe('splitLines', () => {
  it.each([1, 2, 3, 7, 1000])('cuts LF and CRLF lines, whole characters, in chunks of %i bytes', async (size) => {
    const text = 'a,b\r\nélise😀,c\n\nlast';
    expect(await collect(chunks(Buffer.from(text), size))).toEqual(['a,b', 'élise😀,c', '', 'last']);
  });

  it('yields nothing for an empty file and no extra line after a final line break', async () => {
    expect(await collect(chunks(Buffer.alloc(0), 4))).toEqual([]);
    expect(await collect(chunks(Buffer.from('x\r\n'), 1))).toEqual(['x']);
  });

  it('decodes invalid UTF-8 bytes as U+FFFD (which the row validation refuses)', async () => {
    const bytes = Buffer.concat([Buffer.from('al'), Buffer.from([0xff, 0xc0, 0xaf]), Buffer.from('ce\n')]);
    expect(await collect(chunks(bytes, 1))).toEqual(['al\uFFFD\uFFFD\uFFFDce']);
  });

  it('accepts a line of exactly the limit, CR aside', async () => {
    const line = 'x'.repeat(100);
    expect(await collect(chunks(Buffer.from(`${line}\r\n${line}`), 9))).toEqual([line, line]);
  });

  it('refuses a line past the limit as soon as it is passed, without reading the rest', async () => {
    let pulled = 0;
    // 2 MB without a line break; read in 1 KB chunks, the old splitter re-joined and re-split it 2,000 times.
    async function* endless(): AsyncGenerator<Buffer> {
      yield Buffer.from('login,cohorts,leaked,password_changed_at\nalice@example.test,');
      for (let i = 0; i < 2000; i++) {
        pulled++;
        yield Buffer.from('health|'.repeat(146));
      }
    }
    const splitting = (async () => {
      for await (const batch of splitLines(endless(), { maxLineChars: 4096, fieldAt: () => 'cohorts' })) void batch;
    })();
    await expect(splitting).rejects.toThrow(LineTooLongError);
    await expect(splitting).rejects.toMatchObject({
      kind: 'too_large',
      code: 'line_too_long',
      message: 'line 2 is longer than 4096 characters (in field cohorts)',
      extra: { line: 2, field: 'cohorts', limitChars: 4096 },
    });
    expect(pulled).toBeLessThanOrEqual(Math.ceil(4096 / 1022) + 1);
  });

  it('refuses an over-long line that arrives whole in one chunk', async () => {
    const text = `ok\n${'y'.repeat(101)}\nnever read\n`;
    await expect(collect(chunks(Buffer.from(text), 1 << 20))).rejects.toMatchObject({
      code: 'line_too_long',
      extra: { line: 2, field: 'line' },
    });
  });
});

describe('LineSplitter work is linear in the input (counted, not timed)', () => {
  it('joins each character of a line cut into 1-character chunks once, and never holds more than the limit', () => {
    const limit = 50_000;
    const splitter = new LineSplitter({ maxLineChars: limit });
    const lines: string[] = [];
    for (let i = 0; i < limit; i++) lines.push(...splitter.push('z'));
    lines.push(...splitter.push('\n'));
    expect(lines).toEqual(['z'.repeat(limit)]);
    // Re-joining the held part on every chunk (as before) would copy limit²/2 = 1.25e9 characters.
    expect(splitter.stats.joinedChars).toBe(limit);
    expect(splitter.stats.peakPendingChars).toBe(limit);
  });

  it('over a whole file, joins at most the file once whatever the chunking', () => {
    const text = Array.from({ length: 2000 }, (_, i) => `user${i}@example.test,${'c|'.repeat(i % 40)},false,`).join(
      '\n',
    );
    for (const size of [1, 5, 64, 4096]) {
      const splitter = new LineSplitter({ maxLineChars: 200 });
      const lines: string[] = [];
      for (let i = 0; i < text.length; i += size) lines.push(...splitter.push(text.slice(i, i + size)));
      lines.push(...splitter.end());
      expect(lines).toEqual(text.split('\n'));
      expect(splitter.stats.joinedChars).toBeLessThanOrEqual(text.length);
      expect(splitter.stats.peakPendingChars).toBeLessThanOrEqual(201);
    }
  });

  it('holds at most the limit plus one chunk before refusing an endless line', () => {
    const splitter = new LineSplitter({ maxLineChars: 1000 });
    let pushed = 0;
    expect(() => {
      for (;;) {
        splitter.push('w'.repeat(64));
        pushed++;
      }
    }).toThrow(LineTooLongError);
    expect(pushed).toBe(15); // the 16th chunk passes 1,000 characters
    expect(splitter.stats.peakPendingChars).toBeLessThanOrEqual(1000 + 64);
  });
});
