import { StringDecoder } from 'node:string_decoder';
import { LineTooLongError } from './account-import.types';

export interface LineSplitterOptions {
  /** Refuse a line longer than this (UTF-16 code units, without its line break) as soon as it passes it. */
  maxLineChars: number;
  /** Names the field a refused line had reached, from the part of it that was read. */
  fieldAt?: (prefix: string, line: number) => string | undefined;
}

/**
 * Cuts text into lines (LF or CRLF) in time linear in its length, whatever the line lengths: the part of a line
 * that ends a chunk is kept as a list of pieces and joined once, when its line ends, never re-concatenated or
 * re-split chunk after chunk. A line is refused as soon as it passes the limit, so the pieces never hold more.
 */
export class LineSplitter {
  private pieces: string[] = [];
  private pendingChars = 0;
  private linesDone = 0;
  /** The work done, for the tests that prove it linear: characters joined from pieces, the most ever held. */
  readonly stats = { joinedChars: 0, peakPendingChars: 0 };

  constructor(private readonly options: LineSplitterOptions) {}

  /** The lines this text completes (the part after its last line break waits for the next text). */
  push(text: string): string[] {
    const parts = text.split('\n');
    const tail = parts.pop()!;
    const lines = parts.map((part, i) => {
      if (i > 0 || this.pieces.length === 0) return this.complete(part);
      this.hold(part);
      return this.complete(this.takePending());
    });
    this.hold(tail);
    return lines;
  }

  /** The last line, when the text does not end with a line break. */
  end(): string[] {
    return this.pieces.length > 0 ? [this.complete(this.takePending())] : [];
  }

  private hold(piece: string): void {
    if (piece === '') return;
    this.pendingChars += piece.length;
    this.pieces.push(piece);
    this.stats.peakPendingChars = Math.max(this.stats.peakPendingChars, this.pendingChars);
    // Past the limit by at most one piece: that piece is already in memory (it is part of the text pushed).
    if (this.pendingChars > this.options.maxLineChars + 1) this.refuse(this.pieces.join(''));
  }

  private takePending(): string {
    const line = this.pieces.length === 1 ? this.pieces[0] : this.pieces.join('');
    if (this.pieces.length > 1) this.stats.joinedChars += line.length;
    this.pieces = [];
    this.pendingChars = 0;
    return line;
  }

  private complete(raw: string): string {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.length > this.options.maxLineChars) this.refuse(line);
    this.linesDone++;
    return line;
  }

  private refuse(text: string): never {
    const line = this.linesDone + 1;
    const prefix = text.slice(0, this.options.maxLineChars);
    throw new LineTooLongError(line, this.options.maxLineChars, this.options.fieldAt?.(prefix, line));
  }
}

/**
 * Yields the lines of a byte stream in batches (one per chunk), with memory bounded by the chunk and the line
 * limit. Multi-byte UTF-8 characters split across chunks are decoded correctly; invalid bytes become U+FFFD,
 * which the row validation refuses (naming the line and the field).
 */
export async function* splitLines(
  source: AsyncIterable<Buffer | string>,
  options: LineSplitterOptions,
): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  const splitter = new LineSplitter(options);
  for await (const chunk of source) {
    const lines = splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk));
    if (lines.length) yield lines;
  }
  const rest = decoder.end();
  const last = [...(rest ? splitter.push(rest) : []), ...splitter.end()];
  if (last.length) yield last;
}
