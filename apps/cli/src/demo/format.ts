/** Number, duration and bar formatting for the story's output (English, fixed: the output is also read by CI). */

export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/**
 * A rate, accounts per second: 1,200/s, 27/s, 2.5/s, 0.25/s. Below 10 it keeps its decimals: a wave set to 0.5/s (the
 * API takes 0.1 and up) is never shown as 1/s, nor one crawling at 0.4/s as 0/s, stopped.
 */
export function perSecond(n: number): string {
  const digits = Math.abs(n) >= 10 ? 0 : Math.abs(n) >= 1 ? 1 : 2;
  return `${n.toLocaleString('en-US', { maximumFractionDigits: digits })}/s`;
}

export function percent(fraction: number, digits = 1): string {
  return `${(fraction * 100).toFixed(digits)} %`;
}

/** 850 ms, 9.8 s, 1 min 12 s */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

/** A fixed-width progress bar: █ done, ░ to do (ASCII # and . when asked). */
export function bar(fraction: number, width: number, ascii = false): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return (ascii ? '#' : '█').repeat(full) + (ascii ? '.' : '░').repeat(width - full);
}

/** "4,732 password_reset_required, 1 already_enabled" or "none". */
export function reasons(byReason: Record<string, number>): string {
  const parts = Object.entries(byReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `${int(n)} ${reason}`);
  return parts.length ? parts.join(', ') : 'none';
}

export function padEnd(text: string, width: number): string {
  const visible = visibleLength(text);
  return visible >= width ? text : text + ' '.repeat(width - visible);
}

export function padStart(text: string, width: number): string {
  const visible = visibleLength(text);
  return visible >= width ? text : ' '.repeat(width - visible) + text;
}

// eslint-disable-next-line no-control-regex -- ANSI colour sequences are exactly what is stripped
const ANSI = /\x1b\[[0-9;]*m/g;

export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

export function visibleLength(text: string): number {
  return [...stripAnsi(text)].length;
}

/** A simple fixed-width table; the first row is the header. Columns listed in `right` are right-aligned. */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => (right.has(i) ? padStart(cell, widths[i]) : padEnd(cell, widths[i])))
      .join('  ')
      .trimEnd(),
  );
}
