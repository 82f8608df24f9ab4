import { stripAnsi, visibleLength } from './format';

type Style = (text: string) => string;

export interface Paint {
  bold: Style;
  dim: Style;
  green: Style;
  yellow: Style;
  red: Style;
  cyan: Style;
}

const sgr =
  (on: number, off: number): Style =>
  (text) =>
    `\x1b[${on}m${text}\x1b[${off}m`;
const plain: Style = (text) => text;

export interface TerminalOptions {
  /** Redraw a live block in place (ANSI). Default: the stream is a TTY. */
  tty?: boolean;
  /** Colours. Default: a TTY and NO_COLOR unset. */
  color?: boolean;
  /** Without a TTY, the live block is printed at most this often (ms) unless forced. */
  plainIntervalMs?: number;
}

/**
 * The story's output: log lines, and a live block (one progress bar per wave) under them. On a TTY the block is
 * redrawn in place; otherwise (CI logs, pipes) it is printed as plain lines every few seconds, and on demand.
 */
export class Terminal {
  readonly tty: boolean;
  readonly paint: Paint;
  private readonly plainIntervalMs: number;
  private drawn = 0;
  private block: string[] = [];
  private lastPlainAt = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    options: TerminalOptions = {},
  ) {
    this.tty = options.tty ?? out.isTTY === true;
    const color = options.color ?? (this.tty && !process.env.NO_COLOR);
    this.paint = color
      ? {
          bold: sgr(1, 22),
          dim: sgr(2, 22),
          green: sgr(32, 39),
          yellow: sgr(33, 39),
          red: sgr(31, 39),
          cyan: sgr(36, 39),
        }
      : { bold: plain, dim: plain, green: plain, yellow: plain, red: plain, cyan: plain };
    this.plainIntervalMs = options.plainIntervalMs ?? 3000;
  }

  /** One line of the story (printed above the live block, which is redrawn under it). */
  say(line = ''): void {
    if (this.tty && this.drawn > 0) {
      this.erase();
      this.out.write(`${this.clip(line)}\n`);
      this.draw();
    } else {
      this.out.write(`${this.tty ? this.clip(line) : stripAnsi(line)}\n`);
    }
  }

  /** Replaces the live block. Without a TTY it is printed when `force` or every plainIntervalMs. */
  live(lines: string[], force = false): void {
    this.block = lines;
    if (this.tty) {
      this.erase();
      this.draw();
      return;
    }
    const now = Date.now();
    if (!force && now - this.lastPlainAt < this.plainIntervalMs) return;
    this.lastPlainAt = now;
    for (const line of lines) this.out.write(`${stripAnsi(line)}\n`);
  }

  /** Leaves the last live block on screen as ordinary output. */
  endLive(): void {
    this.drawn = 0;
    this.block = [];
  }

  private draw(): void {
    if (!this.block.length) return;
    this.out.write(`${this.block.map((l) => this.clip(l)).join('\n')}\n`);
    this.drawn = this.block.length;
  }

  private erase(): void {
    if (this.drawn > 0) this.out.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  /** A line that wraps would break the cursor arithmetic of the redraw: cut it to the terminal's width. */
  private clip(line: string): string {
    const columns = this.out.columns ?? 0;
    if (!this.tty || columns < 20 || visibleLength(line) < columns) return line;
    return `${[...stripAnsi(line)].slice(0, columns - 2).join('')}…`;
  }
}
