export interface PollOptions {
  /** Give up after this long (ms). */
  timeoutMs?: number;
  /** Wait between tries (ms). */
  intervalMs?: number;
  /** Said in the error when the deadline passes. */
  description?: string;
}

/**
 * Calls `probe` until it returns a value other than undefined/false, or the deadline passes.
 * Use instead of fixed sleeps: fast when the system is fast, and a clear failure when it is not.
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 10_000, intervalMs = 50, description = 'condition' }: PollOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`pollUntil: ${description} not reached within ${timeoutMs} ms${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
