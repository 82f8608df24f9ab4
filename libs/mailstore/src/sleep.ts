import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`, or less if `signal` fires; never rejects (callers check `signal.aborted`). */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: Sleep = async (ms, signal) => {
  if (ms <= 0 || signal?.aborted) return;
  try {
    await delay(ms, undefined, { signal });
  } catch {
    // Aborted: the caller looks at its signal.
  }
};
