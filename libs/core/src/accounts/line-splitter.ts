import { StringDecoder } from 'node:string_decoder';

/**
 * Yields the lines of a byte stream (LF or CRLF) with constant memory: only the current partial line
 * is held between chunks. Multi-byte UTF-8 characters split across chunks are decoded correctly.
 */
export async function* splitLines(source: AsyncIterable<Buffer | string>): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of source) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    if (lines.length) yield lines.map(stripCr);
  }
  const last = rest + decoder.end();
  if (last !== '') yield [stripCr(last)];
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
